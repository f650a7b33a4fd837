//! The account state machine against a plain model: random sequences of create, link, expire,
//! unlink, unbind and get, each answer compared with what the model says it must be. The model is
//! the README's rules written as simply as possible: a create for a number the merchant has ENABLED
//! answers "200" with the account linked last; anything else makes a new PENDING account.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

#[derive(Debug, Clone)]
enum Op {
    Create(usize),
    Link(usize),
    Expire(usize),
    Unlink(usize),
    Unbind(usize),
    Get(usize),
}

fn op() -> impl Strategy<Value = Op> {
    // Three phone numbers make repeated numbers common; an index picks one of the accounts so far.
    prop_oneof![
        3 => (0..3usize).prop_map(Op::Create),
        3 => any::<usize>().prop_map(Op::Link),
        1 => any::<usize>().prop_map(Op::Expire),
        1 => any::<usize>().prop_map(Op::Unlink),
        2 => any::<usize>().prop_map(Op::Unbind),
        2 => any::<usize>().prop_map(Op::Get),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Enabled,
    Expired,
    Disabled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Enabled => "ENABLED",
            Self::Expired => "EXPIRED",
            Self::Disabled => "DISABLED",
        }
    }
}

struct ModelAccount {
    id: String,
    phone: usize,
    status: Status,
    /// When it was linked, in link order.
    linked: u64,
}

#[derive(Default)]
struct Model {
    accounts: Vec<ModelAccount>,
    links: u64,
}

impl Model {
    fn pick(&mut self, i: usize) -> Option<&mut ModelAccount> {
        let n = self.accounts.len();
        (n > 0).then(move || &mut self.accounts[i % n])
    }

    /// The account a create for `phone` answers with, if the number is linked.
    fn linked(&self, phone: usize) -> Option<&str> {
        self.accounts
            .iter()
            .filter(|a| a.phone == phone && a.status == Status::Enabled)
            .max_by_key(|a| a.linked)
            .map(|a| a.id.as_str())
    }
}

fn phone(n: usize) -> String {
    format!("8120000000{n}")
}

/// A control API transition: 200 with the new status if allowed from `from`, else 409.
async fn control(
    app: &TestApp,
    model: &mut Model,
    i: usize,
    action: &str,
    from: Status,
    to: Status,
) -> Result<(), TestCaseError> {
    let links = model.links + 1;
    let Some(account) = model.pick(i) else {
        return Ok(());
    };
    let r = app
        .admin(
            Method::POST,
            &format!("/__admin/accounts/{}/{action}?wait=false", account.id),
            None,
        )
        .await;
    if account.status == from {
        prop_assert_eq!(
            r.status.as_u16(),
            200,
            "{} {}: {}",
            action,
            account.id,
            r.text
        );
        prop_assert_eq!(&r.body["account"]["account_status"], to.name());
        account.status = to;
        if to == Status::Enabled {
            account.linked = links;
            model.links = links;
        }
    } else {
        prop_assert_eq!(
            r.status.as_u16(),
            409,
            "{} {}: {}",
            action,
            account.id,
            r.text
        );
        prop_assert_eq!(&r.body["account_status"], account.status.name());
    }
    Ok(())
}

async fn run(app: &TestApp, key: &str, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    for op in ops {
        match *op {
            Op::Create(n) => {
                let r = app.create(key, &gopay(&phone(n))).await;
                let body: &Value = &r.body;
                match model.linked(n) {
                    Some(id) => {
                        prop_assert_eq!(&body["status_code"], "200", "{}", r.text);
                        prop_assert_eq!(&body["account_id"], id);
                        prop_assert_eq!(&body["account_status"], "ENABLED");
                    }
                    None => {
                        prop_assert_eq!(&body["status_code"], "201", "{}", r.text);
                        let id = body["account_id"].as_str().unwrap_or_default().to_string();
                        prop_assert!(model.accounts.iter().all(|a| a.id != id), "a new id");
                        model.accounts.push(ModelAccount {
                            id,
                            phone: n,
                            status: Status::Pending,
                            linked: 0,
                        });
                    }
                }
            }
            Op::Link(i) => {
                control(app, &mut model, i, "link", Status::Pending, Status::Enabled).await?
            }
            Op::Expire(i) => {
                control(
                    app,
                    &mut model,
                    i,
                    "expire",
                    Status::Pending,
                    Status::Expired,
                )
                .await?
            }
            Op::Unlink(i) => {
                control(
                    app,
                    &mut model,
                    i,
                    "unlink",
                    Status::Enabled,
                    Status::Disabled,
                )
                .await?
            }
            Op::Unbind(i) => {
                let Some(account) = model.pick(i) else {
                    continue;
                };
                let r = app.unbind(key, &account.id).await;
                if account.status == Status::Enabled {
                    prop_assert_eq!(&r.body["status_code"], "204", "{}", r.text);
                    prop_assert_eq!(&r.body["account_status"], "DISABLED");
                    account.status = Status::Disabled;
                } else {
                    prop_assert_eq!(&r.body["status_code"], "412", "{}", r.text);
                }
            }
            Op::Get(i) => {
                let Some(account) = model.pick(i) else {
                    continue;
                };
                let r = app.get(key, &account.id).await;
                let code = match account.status {
                    Status::Pending => "201",
                    Status::Enabled => "200",
                    Status::Expired | Status::Disabled => "204",
                };
                prop_assert_eq!(&r.body["status_code"], code, "{}", r.text);
                prop_assert_eq!(&r.body["account_status"], account.status.name());
            }
        }
    }
    Ok(())
}

#[test]
fn random_sequences_answer_like_the_model() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = spawn_app_with(|c| c.activation_ttl = Duration::ZERO);
    let case = AtomicUsize::new(0);
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(op(), 1..40))| {
        // Each case is its own merchant: the server key isolates it from the others.
        let key = format!("SB-Mid-server-MODEL{}", case.fetch_add(1, Ordering::Relaxed));
        runtime.block_on(run(&app, &key, &ops))?;
    });
}

#[tokio::test]
async fn unbinding_the_newer_of_two_linked_accounts_leaves_the_older_one_answering() {
    let app = spawn_app();
    let older = app.create_pending(KEY, "81234567891").await;
    let newer = app.create_pending(KEY, "81234567891").await;
    app.link(&older).await;
    app.link(&newer).await;
    let r = app.create(KEY, &gopay("81234567891")).await;
    assert_eq!(r.body["account_id"], newer.as_str(), "the one linked last");
    assert_eq!(app.unbind(KEY, &newer).await.body["status_code"], "204");
    let r = app.create(KEY, &gopay("81234567891")).await;
    assert_eq!(r.body["status_code"], "200", "{}", r.text);
    assert_eq!(r.body["account_id"], older.as_str());
}

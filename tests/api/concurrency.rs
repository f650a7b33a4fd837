//! Many merchants creating accounts at the same time on one server.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::helpers::*;

const KEYS: usize = 8;
const CREATES_PER_KEY: usize = 50;

fn key(n: usize) -> String {
    format!("SB-Mid-server-PARALLEL{n:02}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creates_by_many_keys_stay_separate() {
    let app = Arc::new(spawn_app_with(|c| c.workers = Some(4)));
    let before = app.account_count().await;

    let mut tasks = Vec::new();
    for k in 0..KEYS {
        for n in 0..CREATES_PER_KEY {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let phone = format!("81{k:02}{n:07}");
                let r = app.create(&key(k), &gopay(&phone)).await;
                assert_eq!(r.status, 200, "{}", r.text);
                let body = r.body;
                assert_eq!(body["status_code"], "201", "{body}");
                (k, body["account_id"].as_str().unwrap().to_string())
            }));
        }
    }
    let mut created: Vec<(usize, String)> = Vec::new();
    for task in tasks {
        created.push(task.await.expect("create task"));
    }

    assert_eq!(created.len(), KEYS * CREATES_PER_KEY);
    let ids: HashSet<&str> = created.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), KEYS * CREATES_PER_KEY, "account ids are unique");
    assert_eq!(
        app.account_count().await,
        before + (KEYS * CREATES_PER_KEY) as u64
    );

    // Every account is found by its owner, and by no other key; checked in parallel too.
    let mut checks = Vec::new();
    for (owner, id) in created {
        let app = app.clone();
        checks.push(tokio::spawn(async move {
            for k in 0..KEYS {
                let r = app.get(&key(k), &id).await;
                assert_eq!(r.status, 200, "{}", r.text);
                let body = r.body;
                if k == owner {
                    assert_eq!(body["status_code"], "201", "{body}");
                    assert_eq!(body["account_status"], "PENDING", "{body}");
                    assert_eq!(body["account_id"], id.as_str(), "{body}");
                } else {
                    assert_eq!(body["status_code"], "404", "{body}");
                    assert_eq!(body["status_message"], "Account doesn't exist.", "{body}");
                }
            }
        }));
    }
    for check in checks {
        check.await.expect("check task");
    }

    // The per-key view agrees.
    for k in 0..KEYS {
        assert_eq!(
            app.accounts_of(&key(k)).await.len(),
            CREATES_PER_KEY,
            "{}",
            key(k)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_unbinds_of_one_account_succeed_once() {
    let app = Arc::new(spawn_app_with(|c| c.workers = Some(4)));
    let id = app.create_pending(KEY, "8215023424").await;
    app.link(&id).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let r = app.unbind(KEY, &id).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body["status_code"].as_str().unwrap().to_string()
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.expect("unbind task"));
    }
    assert_eq!(codes.iter().filter(|c| *c == "204").count(), 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "412").count(),
        19,
        "{codes:?}"
    );
}

/// A full reset empties the store, refills it, then swaps the new accounts in. A charge made
/// meanwhile (on an account created and linked meanwhile) goes with the swap: before, its
/// transaction stayed, naming an account the swap dropped, and the server's own state document
/// no longer imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_made_while_a_reset_refills_the_store_goes_with_the_reset() {
    const FIXTURE: &str = "00000269-7836-49e5-bc65-e592afafec14";
    let app = spawn_app_with(|c| c.generate_accounts = 20_000);
    // A store written since it was filled is rebuilt (an untouched one keeps its accounts).
    app.create_pending(KEY, "81234567890").await;
    let reset = app.reset_in_background();
    // The refill has begun when the fixture account is gone.
    while app.get(KEY, FIXTURE).await.body["status_code"] != "404" {
        assert!(
            !reset.is_finished(),
            "the reset ended before its refill was seen"
        );
    }
    let id = app.create_pending(KEY, "81234567891").await;
    app.link(&id).await;
    let token = app.wallet_token(KEY, &id).await;
    let charged = app
        .charge(
            KEY,
            &json!({
                "payment_type": "gopay",
                "gopay": {"account_id": id, "payment_option_token": token},
                "transaction_details": {"gross_amount": 1000, "order_id": "during-reset"}
            }),
        )
        .await;
    assert_eq!(charged.body["status_code"], "200", "{}", charged.text);
    assert!(
        !reset.is_finished(),
        "the reset ended before the charge: this test needs the charge inside the refill"
    );
    assert_eq!(reset.await.unwrap(), 200);
    assert_eq!(app.get(KEY, &id).await.body["status_code"], "404");
    assert_eq!(app.transaction_count().await, 0);
    let put = app.export_into(&app).await;
    assert_eq!(put.status, 200, "{}", put.text);
}

//! The QA dashboard: `GET /__admin/`, server-rendered pages for people testing a merchant
//! integration by hand.
//!
//! - `overview`: the mock clock and where notifications go, the forms that change the server
//!   (create an account, move the clock, reset, change the config), and the accounts,
//!   transactions and notification log, newest first, a page at a time.
//! - `account`: one account, as its merchant's `GET` sees it, with its balances (and a form to
//!   change them), its transactions and its notifications.
//! - `notification`: one notification as it was sent: payload, headers, signature, attempts.
//! - `rows`: the table rows these pages share, each with the buttons that make sense for it.
//! - `forms`: what the buttons and forms do.
//!
//! Everything is plain HTML forms (`POST /__admin/ui/...`, answered with a 303 back to the page
//! they came from), so it works with JavaScript off. Each form carries this server's form token, on
//! top of the cross-site check every control request passes (`guard.rs`). `?server_key=` (a key, or
//! `shared` for the fixture accounts every key can use) and `?status=` narrow the overview.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{AccountStatus, Owner};
use crate::app::AppState;
use crate::pages::{Look, PageError};
use crate::routing;

mod account;
mod forms;
mod notification;
mod overview;
mod rows;

/// The dashboard's own path.
pub const PATH: &str = "/__admin/";

/// Accounts and notifications per page.
const ROWS: usize = 50;
/// Server keys offered in the filter's suggestions (any key can be typed).
const KEYS_OFFERED: usize = 200;
/// The `server_key` filter value for accounts no key owns (fixtures).
const SHARED: &str = "shared";

/// Registers the dashboard page and its form handlers (inside the `/__admin` scope).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let html_405 = || web::to(method_not_allowed);
    cfg.service(
        web::resource("")
            .route(routing::get().to(to_dashboard))
            .default_service(html_405()),
    )
    .service(
        web::resource("/")
            .route(routing::get().to(overview::page))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/accounts")
            .route(routing::post().to(forms::create_account))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/clock")
            .route(routing::post().to(forms::advance_clock))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/config")
            .route(routing::post().to(forms::change_config))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/reset")
            .route(routing::post().to(forms::reset))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/accounts/{id}")
            .route(routing::get().to(account::page))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/accounts/{id}/balances")
            .route(routing::post().to(account::change_balances))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/accounts/{id}/{action}")
            .route(routing::post().to(forms::account_action))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/transactions/{id}/{action}")
            .route(routing::post().to(forms::transaction_action))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/notifications/{id}")
            .route(routing::get().to(notification::page))
            .default_service(html_405()),
    )
    .service(
        web::resource("/ui/notifications/{id}/retry")
            .route(routing::post().to(forms::retry_notification))
            .default_service(html_405()),
    );
}

async fn method_not_allowed() -> Result<HttpResponse, PageError> {
    Err(PageError::method_not_allowed(Look::Dashboard).back_to(PATH.into()))
}

/// `GET /__admin` → `/__admin/`, keeping the query.
async fn to_dashboard(req: HttpRequest) -> HttpResponse {
    let query = req.query_string();
    let location = if query.is_empty() {
        PATH.to_string()
    } else {
        format!("{PATH}?{query}")
    };
    see_other(&location)
}

/// The page's filters; the forms carry them along so a button press comes back to the same view.
#[derive(Debug, Default, Deserialize, Serialize)]
struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    server_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

impl Filter {
    fn server_key(&self) -> Option<&str> {
        self.server_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
    }

    fn status(&self) -> Option<AccountStatus> {
        let s = self.status.as_deref()?.trim();
        AccountStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    fn owner(&self) -> Owner<'_> {
        match self.server_key() {
            None => Owner::Any,
            Some(SHARED) => Owner::Shared,
            Some(key) => Owner::Key(key),
        }
    }

    /// The same filters, cleaned: what the page's links and forms carry.
    fn clean(&self) -> Self {
        Self {
            server_key: self.server_key().map(str::to_string),
            status: self.status().map(|s| s.as_str().to_string()),
        }
    }

    /// The dashboard URL with these filters and `extra` query pairs.
    fn url_with(&self, extra: &[(&str, String)]) -> String {
        let mut query = serde_urlencoded::to_string(self.clean()).unwrap_or_default();
        if !extra.is_empty() {
            let extra = serde_urlencoded::to_string(extra).unwrap_or_default();
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&extra);
        }
        if query.is_empty() {
            PATH.to_string()
        } else {
            format!("{PATH}?{query}")
        }
    }

    fn url(&self) -> String {
        self.url_with(&[])
    }

    /// Hidden inputs that carry the filters and the form token through a form.
    fn hidden_inputs(&self, token: &str) -> Markup {
        let clean = self.clean();
        html! {
            input type="hidden" name="csrf" value=(token);
            @if let Some(key) = &clean.server_key {
                input type="hidden" name="server_key" value=(key);
            }
            @if let Some(status) = &clean.status {
                input type="hidden" name="status" value=(status);
            }
        }
    }
}

/// The page a form was sent from, and leads back to: the overview with its filters, or an
/// account's or a notification's page. Nothing else: a form cannot send the browser elsewhere.
#[derive(Debug, Default, Deserialize)]
struct Back {
    #[serde(flatten)]
    filter: Filter,
    /// `account:<id>` or `notification:<id>`; anything else is the overview.
    from: Option<String>,
}

impl Back {
    fn overview(filter: &Filter) -> Self {
        Self {
            filter: filter.clean(),
            from: None,
        }
    }

    fn account(id: &Uuid) -> Self {
        Self {
            filter: Filter::default(),
            from: Some(format!("account:{id}")),
        }
    }

    fn notification(id: u64) -> Self {
        Self {
            filter: Filter::default(),
            from: Some(format!("notification:{id}")),
        }
    }

    fn url(&self) -> String {
        let from = self.from.as_deref().unwrap_or_default();
        if let Some(id) = from
            .strip_prefix("account:")
            .and_then(|id| Uuid::parse_str(id).ok())
        {
            return account_href(&id);
        }
        if let Some(id) = from
            .strip_prefix("notification:")
            .and_then(|id| id.parse::<u64>().ok())
        {
            return notification_href(id);
        }
        self.filter.url()
    }

    /// Hidden inputs that carry the form token and the way back through a form.
    fn hidden_inputs(&self, token: &str) -> Markup {
        html! {
            (self.filter.hidden_inputs(token))
            @if let Some(from) = &self.from {
                input type="hidden" name="from" value=(from);
            }
        }
    }
}

impl Form for Back {
    fn back(&self) -> String {
        self.url()
    }
}

/// The page of one account.
fn account_href(id: &Uuid) -> String {
    format!("/__admin/ui/accounts/{id}")
}

/// The page of one notification.
fn notification_href(id: u64) -> String {
    format!("/__admin/ui/notifications/{id}")
}

/// A dashboard form: its fields, and the page it leads back to.
trait Form: serde::de::DeserializeOwned + Default {
    fn back(&self) -> String;
}

/// Every dashboard form carries this server's form token beside its own fields.
#[derive(Default, Deserialize)]
#[serde(bound = "T: Form")]
struct Signed<T> {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: T,
}

/// Reads a dashboard form and checks its token.
async fn read_form<T: Form>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, PageError> {
    let form: Signed<T> = crate::pages::read_form(state, req, payload, Look::Dashboard).await?;
    if form.csrf.as_deref() != Some(form_token(state).as_str()) {
        return Err(crate::pages::foreign_form(Look::Dashboard).back_to(form.fields.back()));
    }
    Ok(form.fields)
}

/// The token every dashboard form carries: a keyed hash only this server (this run) can make.
fn form_token(state: &AppState) -> String {
    use sha2::{Digest, Sha512};
    let digest = Sha512::new()
        .chain_update(state.form_secret.as_bytes())
        .chain_update(b"dashboard")
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_url() {
        let f = Filter {
            server_key: Some("SB-Mid-server-a b&c".into()),
            status: Some("enabled".into()),
        };
        assert_eq!(
            f.url(),
            "/__admin/?server_key=SB-Mid-server-a+b%26c&status=ENABLED"
        );
        let back: Filter =
            serde_urlencoded::from_str(f.url().trim_start_matches("/__admin/?")).unwrap();
        assert_eq!(back.server_key(), Some("SB-Mid-server-a b&c"));
        assert_eq!(Filter::default().url(), "/__admin/");
        let bad = Filter {
            server_key: Some("  ".into()),
            status: Some("nope".into()),
        };
        assert_eq!(bad.url(), "/__admin/");
        assert_eq!(
            f.url_with(&[("accounts_after", "7".into())]),
            "/__admin/?server_key=SB-Mid-server-a+b%26c&status=ENABLED&accounts_after=7"
        );
    }

    #[test]
    fn a_form_leads_back_only_to_a_dashboard_page() {
        let id = Uuid::nil();
        assert_eq!(
            Back::account(&id).url(),
            format!("/__admin/ui/accounts/{id}")
        );
        assert_eq!(Back::notification(7).url(), "/__admin/ui/notifications/7");
        for from in [
            "https://evil.test/",
            "account:../../x",
            "notification:-1",
            "//evil.test",
        ] {
            let back = Back {
                filter: Filter::default(),
                from: Some(from.into()),
            };
            assert_eq!(back.url(), "/__admin/", "{from}");
        }
        let back: Back = serde_urlencoded::from_str("server_key=k&from=notification%3A3").unwrap();
        assert_eq!(back.url(), "/__admin/ui/notifications/3");
    }

    #[test]
    fn shared_filter_selects_unowned_accounts() {
        let f = Filter {
            server_key: Some(SHARED.into()),
            status: None,
        };
        assert_eq!(f.owner(), Owner::Shared);
    }
}

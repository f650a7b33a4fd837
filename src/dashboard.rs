//! The QA dashboard: `GET /__admin/`, a server-rendered page for people testing a merchant
//! integration by hand.
//!
//! It lists the accounts by status (PENDING, ENABLED, EXPIRED, DISABLED) with their activation links
//! and a button for each transition the state machine allows, and the notification log, newest first,
//! with every delivery attempt and a Retry button. It shows the mock clock and where notifications
//! go. Everything is plain HTML forms (`POST /__admin/ui/...`, answered with a 303 back to the page),
//! so it works with JavaScript off. `?server_key=` (a key, or `shared` for the fixture accounts
//! every key can use) and `?status=` narrow the page.
//!
//! The JSON control API lives beside it under `/__admin/accounts`, `/__admin/notifications`, etc.;
//! the dashboard's form handlers sit under `/__admin/ui/` so the two never overlap.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use crate::accounts::{Account, AccountStatus, Transition, TransitionError};
use crate::activation::{escape, page};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::notifications::{DeliveryState, Event, Notification};

/// The dashboard's own path.
pub const PATH: &str = "/__admin/";

/// At most this many accounts are listed per status, and this many notifications, newest first.
const MAX_ROWS: usize = 300;

/// Registers the dashboard page and its form handlers.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/__admin").route(web::get().to(to_dashboard)))
        .service(web::resource(PATH).route(web::get().to(dashboard)))
        .service(
            web::resource("/__admin/ui/accounts/{id}/{action}")
                .route(web::post().to(account_action)),
        )
        .service(
            web::resource("/__admin/ui/notifications/{id}/retry")
                .route(web::post().to(retry_notification)),
        );
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
#[derive(Debug, Default, Deserialize)]
struct Filter {
    server_key: Option<String>,
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
        [
            AccountStatus::Pending,
            AccountStatus::Enabled,
            AccountStatus::Expired,
            AccountStatus::Disabled,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    fn shows_key(&self, owner: Option<&str>) -> bool {
        match self.server_key() {
            None => true,
            Some(SHARED) => owner.is_none(),
            Some(key) => owner == Some(key),
        }
    }

    /// The dashboard URL with these filters.
    fn url(&self) -> String {
        let mut parts = Vec::new();
        if let Some(key) = self.server_key() {
            parts.push(format!("server_key={}", url_encode(key)));
        }
        if let Some(status) = self.status() {
            parts.push(format!("status={status}"));
        }
        if parts.is_empty() {
            PATH.to_string()
        } else {
            format!("{PATH}?{}", parts.join("&"))
        }
    }

    /// Hidden inputs that carry the filters through a form.
    fn hidden_inputs(&self) -> String {
        let mut out = String::new();
        if let Some(key) = self.server_key() {
            let _ = write!(
                out,
                "<input type=\"hidden\" name=\"server_key\" value=\"{}\">",
                escape(key)
            );
        }
        if let Some(status) = self.status() {
            let _ = write!(
                out,
                "<input type=\"hidden\" name=\"status\" value=\"{status}\">"
            );
        }
        out
    }
}

/// The `server_key` filter value for accounts no key owns (fixtures).
const SHARED: &str = "shared";

async fn dashboard(state: web::Data<AppState>, query: Option<web::Query<Filter>>) -> HttpResponse {
    let filter = query.map(web::Query::into_inner).unwrap_or_default();
    let now = state.clock.now_ms();
    let all_accounts = state.store.list(None, now);
    let notifications = state.notifications.list(|n| match filter.server_key() {
        None => true,
        Some(key) => n.server_key == key,
    });

    let mut body = String::with_capacity(16 * 1024);
    body.push_str("<header><h1>pay-account-mock <span>QA dashboard</span></h1>");
    let _ = write!(
        body,
        "<a class=\"refresh\" href=\"{}\">Refresh</a></header>",
        escape(&filter.url())
    );
    settings_panel(&mut body, &state, now);
    filter_form(&mut body, &filter, &all_accounts, &notifications);

    let accounts: Vec<&Account> = all_accounts
        .iter()
        .filter(|a| filter.shows_key(a.owner.as_deref()))
        .collect();
    status_tabs(&mut body, &filter, &accounts);
    body.push_str(
        "<h2>Accounts</h2><table class=\"accounts\"><thead><tr><th>Account</th><th>Server key</th>\
         <th>Phone</th><th>Created</th><th>Activation links</th><th>Redirect URL</th>\
         <th>Actions</th></tr></thead>",
    );
    let statuses = [
        AccountStatus::Pending,
        AccountStatus::Enabled,
        AccountStatus::Expired,
        AccountStatus::Disabled,
    ];
    for status in statuses {
        if filter.status().is_some_and(|s| s != status) {
            continue;
        }
        // Newest first within each status.
        let rows: Vec<&Account> = accounts
            .iter()
            .rev()
            .filter(|a| a.status == status)
            .copied()
            .collect();
        account_section(&mut body, &state, &filter, status, &rows);
    }
    body.push_str("</table>");

    notification_log(&mut body, &filter, &notifications);
    page(
        StatusCode::OK,
        "pay-account-mock QA dashboard",
        STYLE,
        &body,
    )
}

fn settings_panel(body: &mut String, state: &AppState, now: u64) {
    let settings = state.settings.read().clone();
    body.push_str("<section class=\"panel\"><dl>");
    let offset = state.clock.offset();
    let advanced = if offset.is_zero() {
        String::from("real time")
    } else {
        format!("advanced by {}", humantime::format_duration(offset))
    };
    let _ = write!(
        body,
        "<dt>Mock clock</dt><dd><span id=\"clock\">{}</span> <small>({})</small></dd>",
        rfc3339(now),
        escape(&advanced)
    );
    let _ = write!(
        body,
        "<dt>Notification URL</dt><dd id=\"notification-url\">{}</dd>",
        match &settings.notification_url {
            Some(url) => format!("<code>{}</code>", escape(url)),
            None => "<em>none: notifications are logged, not sent</em>".into(),
        }
    );
    let mut per_key: Vec<_> = settings.notification_urls.iter().collect();
    per_key.sort();
    for (key, url) in per_key {
        let _ = write!(
            body,
            "<dt>URL for <code>{}</code></dt><dd><code>{}</code></dd>",
            escape(key),
            escape(url)
        );
    }
    let _ = write!(
        body,
        "<dt>Merchant id</dt><dd><code>{}</code></dd>\
         <dt>Activation TTL</dt><dd>{}</dd></dl></section>",
        escape(&settings.merchant_id),
        if settings.activation_ttl.is_zero() {
            "never expires".to_string()
        } else {
            humantime::format_duration(settings.activation_ttl).to_string()
        }
    );
}

fn filter_form(
    body: &mut String,
    filter: &Filter,
    accounts: &[Account],
    notifications: &[Notification],
) {
    let mut keys: BTreeSet<&str> = accounts.iter().filter_map(|a| a.owner.as_deref()).collect();
    keys.extend(notifications.iter().map(|n| n.server_key.as_str()));
    let current = filter.server_key();
    if let Some(k) = current {
        keys.insert(k);
    }
    keys.remove(SHARED);
    body.push_str(
        "<form class=\"filter\" method=\"get\" action=\"/__admin/\">\
         <label>Server key <select name=\"server_key\"><option value=\"\">all</option>",
    );
    let selected = |v: &str| if current == Some(v) { " selected" } else { "" };
    let _ = write!(
        body,
        "<option value=\"{SHARED}\"{}>shared (fixture accounts)</option>",
        selected(SHARED)
    );
    for key in keys {
        let _ = write!(
            body,
            "<option value=\"{0}\"{1}>{0}</option>",
            escape(key),
            selected(key)
        );
    }
    body.push_str("</select></label>");
    if let Some(status) = filter.status() {
        let _ = write!(
            body,
            "<input type=\"hidden\" name=\"status\" value=\"{status}\">"
        );
    }
    body.push_str("<button type=\"submit\">Filter</button></form>");
}

fn status_tabs(body: &mut String, filter: &Filter, accounts: &[&Account]) {
    body.push_str("<nav class=\"tabs\">");
    let base = Filter {
        server_key: filter.server_key().map(str::to_string),
        status: None,
    };
    let class = |on: bool| if on { " class=\"on\"" } else { "" };
    let _ = write!(
        body,
        "<a href=\"{}\"{}>All <b>{}</b></a>",
        escape(&base.url()),
        class(filter.status().is_none()),
        accounts.len()
    );
    for status in [
        AccountStatus::Pending,
        AccountStatus::Enabled,
        AccountStatus::Expired,
        AccountStatus::Disabled,
    ] {
        let f = Filter {
            server_key: base.server_key.clone(),
            status: Some(status.as_str().into()),
        };
        let n = accounts.iter().filter(|a| a.status == status).count();
        let _ = write!(
            body,
            "<a href=\"{}\"{}>{status} <b>{n}</b></a>",
            escape(&f.url()),
            class(filter.status() == Some(status))
        );
    }
    body.push_str("</nav>");
}

fn account_section(
    body: &mut String,
    state: &AppState,
    filter: &Filter,
    status: AccountStatus,
    rows: &[&Account],
) {
    let _ = write!(
        body,
        "<tbody class=\"group\" id=\"status-{status}\"><tr class=\"group-head\"><th colspan=\"7\">\
         <span class=\"badge s-{status}\">{status}</span> {} account{}</th></tr>",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    if rows.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"empty\">None.</td></tr></tbody>");
        return;
    }
    for account in rows.iter().take(MAX_ROWS) {
        let (web_link, app_link) = state.activation_links(account);
        let id = account.id;
        let _ = write!(
            body,
            "<tr class=\"account\" data-account-id=\"{id}\" data-status=\"{status}\">\
             <td><code>{id}</code></td><td>{key}</td><td class=\"nowrap\">{phone}</td>\
             <td class=\"nowrap\">{created}{expires}</td>\
             <td class=\"links\"><a href=\"{web}\">web</a>{used} · <a href=\"{app}\">app</a></td>\
             <td>{redirect}</td><td class=\"actions\">",
            key = match account.owner.as_deref() {
                Some(k) => format!("<code>{}</code>", escape(k)),
                None => "<em>shared</em>".into(),
            },
            phone = escape(&account.masked_phone()),
            created = rfc3339(account.created_at_ms),
            expires = match (status, account.expires_at_ms) {
                (AccountStatus::Pending, Some(at)) =>
                    format!("<br><small>expires {}</small>", rfc3339(at)),
                _ => String::new(),
            },
            web = escape(&web_link),
            used = if account.web_link_used {
                " <small>(used)</small>"
            } else {
                ""
            },
            app = escape(&app_link),
            redirect = match account.redirect_url.as_deref() {
                Some(url) => format!("<code class=\"url\">{}</code>", escape(url)),
                None => "<em>none</em>".into(),
            },
        );
        for t in status.allowed() {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/__admin/ui/accounts/{id}/{name}\">{hidden}\
                 <button type=\"submit\" class=\"t-{name}\" title=\"{title}\">{label}</button></form>",
                name = t.name(),
                hidden = filter.hidden_inputs(),
                title = transition_title(*t),
                label = transition_label(*t),
            );
        }
        if status.allowed().is_empty() {
            body.push_str("<small>final</small>");
        }
        body.push_str("</td></tr>");
    }
    if rows.len() > MAX_ROWS {
        let _ = write!(
            body,
            "<tr><td colspan=\"7\" class=\"empty\">{} more not shown.</td></tr>",
            rows.len() - MAX_ROWS
        );
    }
    body.push_str("</tbody>");
}

fn transition_label(t: Transition) -> &'static str {
    match t {
        Transition::Link => "Link",
        Transition::Expire => "Expire",
        Transition::Unbind => "Unbind",
        Transition::Unlink => "Unlink",
    }
}

fn transition_title(t: Transition) -> &'static str {
    match t {
        Transition::Link => "The customer approves: ENABLED, sends account_linked",
        Transition::Expire => "The activation link runs out: EXPIRED, no notification",
        Transition::Unbind => "The merchant unbinds: DISABLED, sends account_unlinked",
        Transition::Unlink => "The customer unlinks in the app: DISABLED, sends account_unlinked",
    }
}

fn notification_log(body: &mut String, filter: &Filter, notifications: &[Notification]) {
    let _ = write!(
        body,
        "<h2>Notifications <small>{} logged, newest first</small></h2>",
        notifications.len()
    );
    if notifications.is_empty() {
        body.push_str("<p class=\"empty\">No notifications yet.</p>");
        return;
    }
    body.push_str(
        "<table class=\"log\"><thead><tr><th>#</th><th>Created</th><th>Event</th><th>Account</th>\
         <th>URL</th><th>State</th><th>Attempts</th><th></th></tr></thead><tbody>",
    );
    for n in notifications.iter().rev().take(MAX_ROWS) {
        let state = delivery_state(n.state);
        let _ = write!(
            body,
            "<tr class=\"notification\" data-notification-id=\"{id}\" data-state=\"{state}\">\
             <td>{id}</td><td class=\"nowrap\">{created}</td><td><code>{event}</code></td>\
             <td><code>{account}</code><br><small>key <code>{key}</code></small></td><td>{url}</td>\
             <td><span class=\"badge d-{state}\">{state}</span>{next}</td><td>",
            id = n.id,
            created = escape(&n.created_at),
            event = match n.event {
                Event::AccountLinked => "account_linked",
                Event::AccountUnlinked => "account_unlinked",
            },
            account = n.account_id,
            key = escape(&n.server_key),
            url = match &n.url {
                Some(url) => format!("<code class=\"url\">{}</code>", escape(url)),
                None => "<em>none</em>".into(),
            },
            next = match &n.next_attempt_at {
                Some(at) => format!("<br><small>next {}</small>", escape(at)),
                None => String::new(),
            },
        );
        if n.attempts.is_empty() {
            body.push_str("<small>none yet</small>");
        } else {
            body.push_str("<ol class=\"attempts\">");
            for a in &n.attempts {
                let outcome = match (a.http_status, &a.error) {
                    (Some(code), _) => format!(
                        "<span class=\"http {}\">HTTP {code}</span>",
                        if (200..300).contains(&code) {
                            "good"
                        } else {
                            "bad"
                        }
                    ),
                    (None, Some(e)) => format!("<span class=\"http bad\">{}</span>", escape(e)),
                    (None, None) => "<span class=\"http bad\">no answer</span>".into(),
                };
                let redirects = if a.redirects > 0 {
                    format!(
                        ", {} redirect{}",
                        a.redirects,
                        if a.redirects == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    body,
                    "<li class=\"attempt\"><span class=\"nowrap\">{at}</span> {outcome} <small>{ms:.1} ms{redirects}</small></li>",
                    at = escape(&a.at),
                    ms = a.duration_ms,
                );
            }
            body.push_str("</ol>");
        }
        let _ = write!(
            body,
            "</td><td><form method=\"post\" action=\"/__admin/ui/notifications/{}/retry\">{}\
             <button type=\"submit\" class=\"t-retry\">Retry</button></form></td></tr>",
            n.id,
            filter.hidden_inputs()
        );
    }
    body.push_str("</tbody></table>");
    if notifications.len() > MAX_ROWS {
        let _ = write!(
            body,
            "<p class=\"empty\">{} older not shown.</p>",
            notifications.len() - MAX_ROWS
        );
    }
}

fn delivery_state(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Pending => "pending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
        DeliveryState::Undelivered => "undelivered",
    }
}

/// `POST /__admin/ui/accounts/{id}/{action}`: one transition, then back to the page.
async fn account_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Option<web::Form<Filter>>,
) -> HttpResponse {
    let filter = form.map(web::Form::into_inner).unwrap_or_default();
    let id = req
        .match_info()
        .get("id")
        .and_then(|id| Uuid::parse_str(id).ok());
    let transition = req
        .match_info()
        .get("action")
        .and_then(Transition::from_name);
    let (Some(id), Some(transition)) = (id, transition) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such account or action.",
            &filter,
        );
    };
    match state.apply(&id, None, transition) {
        Ok(_) => see_other(&filter.url()),
        Err(TransitionError::NotFound) => problem(
            StatusCode::NOT_FOUND,
            "Account not found",
            &format!("There is no account {id}."),
            &filter,
        ),
        Err(TransitionError::Invalid { current }) => problem(
            StatusCode::CONFLICT,
            "Transition not allowed",
            &format!(
                "Account {id} is {current}; \"{}\" only applies to {} accounts.",
                transition.name(),
                transition.from_status()
            ),
            &filter,
        ),
    }
}

/// `POST /__admin/ui/notifications/{id}/retry`: a fresh attempt to the current URL, then back.
async fn retry_notification(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Option<web::Form<Filter>>,
) -> HttpResponse {
    let filter = form.map(web::Form::into_inner).unwrap_or_default();
    let Some(id) = req
        .match_info()
        .get("id")
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return problem(
            StatusCode::NOT_FOUND,
            "Notification not found",
            "There is no such notification.",
            &filter,
        );
    };
    match state.retry_notification(id) {
        Some(_) => see_other(&filter.url()),
        None => problem(
            StatusCode::NOT_FOUND,
            "Notification not found",
            &format!("There is no notification {id}."),
            &filter,
        ),
    }
}

fn problem(status: StatusCode, title: &str, text: &str, filter: &Filter) -> HttpResponse {
    let body = format!(
        "<header><h1>pay-account-mock <span>QA dashboard</span></h1></header>\
         <section class=\"panel\"><h2>{}</h2><p class=\"error\">{}</p>\
         <p><a href=\"{}\">Back to the dashboard</a></p></section>",
        escape(title),
        escape(text),
        escape(&filter.url())
    );
    page(status, title, STYLE, &body)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Percent-encodes a query parameter value.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

const STYLE: &str = "body{background:#f5f6f8;padding:1.2rem 1.6rem 3rem;max-width:90rem;margin:0 auto}\
header{display:flex;align-items:baseline;justify-content:space-between}\
h1{font-size:1.35rem;margin:0 0 .8rem}h1 span{color:#777;font-weight:400}\
h2{font-size:1.1rem;margin:1.6rem 0 .6rem}h2 small{color:#777;font-weight:400;font-size:.85rem}\
.group-head th{background:#fff;padding-top:1rem;font-size:.9rem;border-bottom:1px solid #dde1e6}a{color:#0a58ca}.refresh{font-size:.9rem}\
.panel{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:.7rem 1rem;margin-bottom:.8rem}\
.panel dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1.2rem;margin:0}\
.panel dt{color:#666}.panel dd{margin:0}.filter{display:flex;gap:.6rem;align-items:center;margin:.6rem 0}\
.filter select{font:inherit;padding:.2rem .3rem}.tabs{display:flex;gap:.4rem;flex-wrap:wrap;margin:.4rem 0}\
.tabs a{text-decoration:none;color:#333;background:#fff;border:1px solid #dde1e6;border-radius:999px;\
padding:.2rem .8rem;font-size:.88rem}.tabs a.on{background:#1f2937;color:#fff;border-color:#1f2937}\
.tabs b{font-weight:600;margin-left:.2rem}\
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde1e6;font-size:.86rem}\
th,td{text-align:left;vertical-align:top;padding:.45rem .6rem;border-bottom:1px solid #eceef1}\
th{background:#f0f2f5;font-weight:600;color:#444;white-space:nowrap}\
td code{font-size:.8rem;white-space:nowrap}code.url{color:#444;white-space:normal;\
overflow-wrap:anywhere}.nowrap{white-space:nowrap}\
.actions{white-space:nowrap}.actions form,td form{display:inline}\
button{font:inherit;font-size:.82rem;padding:.25rem .65rem;border-radius:6px;border:1px solid #b8bec6;\
background:#fff;cursor:pointer;margin:0 .2rem .2rem 0}button:hover{background:#f0f2f5}\
.t-link{border-color:#15803d;color:#15803d}.t-expire{border-color:#a16207;color:#a16207}\
.t-unbind,.t-unlink{border-color:#b91c1c;color:#b91c1c}\
.badge{display:inline-block;border-radius:4px;padding:.05rem .45rem;font-size:.75rem;font-weight:700;\
letter-spacing:.02em}.s-PENDING{background:#fef3c7;color:#92400e}.s-ENABLED{background:#dcfce7;color:#166534}\
.s-EXPIRED{background:#e5e7eb;color:#374151}.s-DISABLED{background:#fee2e2;color:#991b1b}\
.d-delivered{background:#dcfce7;color:#166534}.d-pending{background:#dbeafe;color:#1e40af}\
.d-failed{background:#fee2e2;color:#991b1b}.d-undelivered{background:#e5e7eb;color:#374151}\
.attempts{margin:0;padding-left:1.2rem}.http.good{color:#166534;font-weight:600}\
.http.bad{color:#b91c1c;font-weight:600}.empty{color:#777;font-style:italic;margin:.3rem 0}\
.error{color:#b91c1c}.links{white-space:nowrap}";

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
            "/__admin/?server_key=SB-Mid-server-a%20b%26c&status=ENABLED"
        );
        assert_eq!(Filter::default().url(), "/__admin/");
        let bad = Filter {
            server_key: Some("  ".into()),
            status: Some("nope".into()),
        };
        assert_eq!(bad.url(), "/__admin/");
    }

    #[test]
    fn shared_filter_selects_unowned_accounts() {
        let f = Filter {
            server_key: Some(SHARED.into()),
            status: None,
        };
        assert!(f.shows_key(None));
        assert!(!f.shows_key(Some("k")));
    }
}

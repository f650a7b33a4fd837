//! `/__admin/transactions`: list and inspect GoPay transactions, and settle, deny or expire a pending
//! one, as the customer entering the PIN, a denial, or walking away would. Each change goes through
//! `payments.rs`, records its notification, and (like the account transitions) answers after its
//! first delivery attempt (`?wait=false`: at once).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

use super::accounts::{WaitQuery, next_attempt};
use super::{ControlError, method_not_allowed};
use crate::app::AppState;
use crate::charges::{NotifyTo, Refund, Transaction, TxChange, TxStatus};
use crate::clock::{ser_rfc3339, ser_rfc3339_opt};
use crate::money::Amount;
use crate::notifications::Notification;
use crate::notifications::log::Filter;
use crate::paging::{self, Order};
use crate::payments::{self, ChangeError};
use crate::routing;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/transactions")
            .route(routing::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/transactions/{id}")
            .route(routing::get().to(show))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/transactions/{id}/{action}")
            .route(routing::post().to(act))
            .default_service(web::to(method_not_allowed)),
    );
}

/// A transaction as the control API shows it: everything the mock knows about it.
#[derive(Serialize)]
pub struct TransactionView<'a> {
    pub transaction_id: Uuid,
    pub order_id: &'a str,
    pub server_key: &'a str,
    pub account_id: Uuid,
    pub payment_option: &'a str,
    pub gross_amount: Amount,
    pub currency: &'a str,
    pub transaction_status: TxStatus,
    pub pre_auth: bool,
    pub recurring: bool,
    pub callback_url: Option<&'a str>,
    #[serde(serialize_with = "ser_rfc3339")]
    pub created_at: u64,
    #[serde(serialize_with = "ser_rfc3339")]
    pub updated_at: u64,
    #[serde(serialize_with = "ser_rfc3339_opt")]
    pub settled_at: Option<u64>,
    #[serde(serialize_with = "ser_rfc3339")]
    pub expires_at: u64,
    pub verification_links: Option<VerificationLinks>,
    pub web_link_used: bool,
    pub refunded: Amount,
    pub refunds: &'a [Refund],
    pub notify_to: &'a NotifyTo,
}

#[derive(Serialize)]
pub struct VerificationLinks {
    pub url: String,
    pub app: String,
    #[serde(serialize_with = "ser_rfc3339")]
    pub expires_at: u64,
}

impl<'a> TransactionView<'a> {
    pub fn new(app: &AppState, t: &'a Transaction) -> Self {
        let links = (t.status == TxStatus::Pending).then(|| {
            let (url, app_link) = crate::verification::links(&app.public_url, &t.id);
            VerificationLinks {
                url,
                app: app_link,
                expires_at: t.links_expire_at_ms,
            }
        });
        Self {
            transaction_id: t.id,
            order_id: &t.order_id,
            server_key: &t.owner,
            account_id: t.account_id,
            payment_option: &t.payment_option,
            gross_amount: t.gross_amount,
            currency: Transaction::CURRENCY,
            transaction_status: t.status,
            pre_auth: t.pre_auth,
            recurring: t.recurring,
            callback_url: t.callback_url(),
            created_at: t.created_at_ms,
            updated_at: t.updated_at_ms,
            settled_at: t.settled_at_ms,
            expires_at: t.expires_at_ms,
            verification_links: links,
            web_link_used: t.web_link_used,
            refunded: t.refunded(),
            refunds: &t.refunds,
            notify_to: t.notify_to(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    server_key: Option<String>,
    account_id: Option<Uuid>,
    status: Option<TxStatus>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /__admin/transactions[?server_key=][&account_id=][&status=][&limit=][&cursor=]`: a page,
/// oldest first.
async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ControlError> {
    let q = query.into_inner();
    let (limit, after) =
        paging::request(q.limit, q.cursor.as_deref()).map_err(ControlError::BadRequest)?;
    let (page, next) = state.transactions.with(|book| {
        book.page(
            q.server_key.as_deref(),
            after,
            limit,
            Order::OldestFirst,
            |t| {
                q.account_id.is_none_or(|a| t.account_id == a)
                    && q.status.is_none_or(|s| t.status == s)
            },
        )
    });
    let views: Vec<_> = page
        .iter()
        .map(|t| TransactionView::new(&state, t))
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "transactions": views, "next_cursor": paging::cursor_string(next) })))
}

fn find(state: &AppState, req: &HttpRequest) -> Result<Arc<Transaction>, ControlError> {
    // Without an owner, only a transaction id finds one.
    let id = req.match_info().get("id").unwrap_or_default();
    state
        .transactions
        .find(None, id)
        .ok_or(ControlError::NotFound("transaction"))
}

/// `GET /__admin/transactions/{transaction_id}`: the transaction and its notifications.
async fn show(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ControlError> {
    let t = find(&state, &req)?;
    let filter = Filter {
        order_id: Some(t.order_id.to_string()),
        server_key: Some(t.owner.to_string()),
        ..Filter::default()
    };
    let notifications = state
        .notifications
        .page(&filter, None, paging::DEFAULT_LIMIT, Order::OldestFirst)
        .notifications;
    #[derive(Serialize)]
    struct Shown<T> {
        transaction: T,
        notifications: Vec<Notification>,
    }
    Ok(HttpResponse::Ok().json(Shown {
        transaction: TransactionView::new(&state, &t),
        notifications,
    }))
}

/// `POST /__admin/transactions/{transaction_id}/{settle|deny|expire}` for a pending transaction; a
/// 409 from any other status.
async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse, ControlError> {
    let t = find(&state, &req)?;
    let change = match req.match_info().get("action").unwrap_or_default() {
        "settle" => TxChange::Settle,
        "deny" => TxChange::Deny,
        "expire" => TxChange::Expire,
        _ => return Err(ControlError::NotFound("action")),
    };
    if t.status != TxStatus::Pending {
        return Err(ControlError::InvalidTransactionChange {
            transaction_id: t.id.to_string(),
            action: change.as_str(),
            current: t.status,
        });
    }
    let t = payments::change(&state, None, &t.id.to_string(), change).map_err(|e| match e {
        ChangeError::NotFound => ControlError::NotFound("transaction"),
        ChangeError::NotAllowed { current } => ControlError::InvalidTransactionChange {
            transaction_id: t.id.to_string(),
            action: change.as_str(),
            current,
        },
    })?;
    let filter = Filter {
        order_id: Some(t.order_id.to_string()),
        server_key: Some(t.owner.to_string()),
        transaction_status: Some(t.status),
        ..Filter::default()
    };
    let newest = state
        .notifications
        .page(&filter, None, 1, Order::NewestFirst)
        .notifications
        .into_iter()
        .next();
    let notification = match newest {
        Some(n) if query.wait() => next_attempt(&state, n.id, 0).await.or(Some(n)),
        other => other,
    };
    #[derive(Serialize)]
    struct Changed<T> {
        transaction: T,
        notification: Option<Notification>,
    }
    Ok(HttpResponse::Ok().json(Changed {
        transaction: TransactionView::new(&state, &t),
        notification,
    }))
}

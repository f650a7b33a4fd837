//! `POST /v2/pay/account/{account_id}/unbind`: the merchant unlinks an ENABLED account.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

use super::{account_id, json, read_body, respond};
use crate::accounts::{Transition, TransitionError};
use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;

pub async fn unbind(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let result = handle(&state, &req, payload).await;
    respond(&state, result)
}

async fn handle(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let server_key = auth::server_key(req, &state.server_keys)?;
    // The clients send `{}`, `null` or nothing; whatever it is, it is ignored.
    read_body(req, payload, state.max_body_bytes).await?;
    let id = account_id(req)?;
    let (account, _notification) = state
        .apply(&id, Some(&server_key), Transition::Unbind)
        .map_err(|e| match e {
            TransitionError::NotFound => ApiError::AccountNotFound,
            TransitionError::Invalid { .. } => ApiError::CannotUpdate,
        })?;
    Ok(json(&Unbound {
        status_code: "204",
        payment_type: "gopay",
        account_id: &account.id,
        account_status: account.status.as_str(),
        channel_response_code: "0",
        channel_response_message: "Process service request successfully.",
    }))
}

#[derive(Serialize)]
struct Unbound<'a> {
    status_code: &'static str,
    payment_type: &'static str,
    account_id: &'a Uuid,
    account_status: &'static str,
    channel_response_code: &'static str,
    channel_response_message: &'static str,
}

//! `GET /v2/pay/account/{account_id}`: the account as its merchant sees it.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AccountBody, account_id, json, read_body, respond};
use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;

pub async fn get(
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
    // The Node client sends `{}` with its GETs; the body is read (within the limit) and ignored.
    read_body(req, payload, state.max_body_bytes).await?;
    let id = account_id(req)?;
    state
        .store
        .read(
            &id,
            Some(&server_key),
            state.clock.now_ms(),
            |account, status| json(&AccountBody::new(account, status)),
        )
        .ok_or(ApiError::AccountNotFound)
}

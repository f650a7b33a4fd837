//! `GET /v2/pay/account/{account_id}`: the account as its merchant sees it.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AccountBody, ServerKey, account_id, read_body};
use crate::app::AppState;
use crate::error::ApiError;

pub async fn get(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The Node client sends `{}` with its GETs; the body is read (within the limits) and ignored.
    read_body(&state, &req, payload).await?;
    let id = account_id(&req)?;
    state
        .store
        .read(
            &id,
            Some(&server_key),
            state.clock.now_ms(),
            |account, status| AccountBody::new(account, status).response(),
        )
        .ok_or(ApiError::AccountNotFound)
}

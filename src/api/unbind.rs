//! `POST /v2/pay/account/{account_id}/unbind`: the merchant unlinks an ENABLED account.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

use super::{ServerKey, account_id, read_body};
use crate::accounts::{Transition, TransitionError};
use crate::app::AppState;
use crate::error::ApiError;
use crate::transitions;

pub async fn unbind(
    state: web::Data<AppState>,
    ServerKey(server_key): ServerKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The clients send `{}`, `null` or nothing; whatever it is, it is ignored.
    read_body(&state, &req, payload).await?;
    let id = account_id(&req)?;
    let (account, _notification) =
        transitions::apply(&state, &id, Some(&server_key), Transition::Unbind).map_err(
            |e| match e {
                TransitionError::NotFound => ApiError::AccountNotFound,
                TransitionError::Invalid { .. } => ApiError::CannotUpdate,
            },
        )?;
    Ok(HttpResponse::Ok().json(Unbound {
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

//! `/__admin/state`: the whole state as the state file holds it ([`crate::state_file`]), so that a
//! QA tester can hand a reproducible state to a developer and a CI job can start from a saved one.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{ControlError, method_not_allowed};
use crate::app::AppState;
use crate::routing;
use crate::state_file;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/state")
            .route(routing::get().to(export))
            .route(routing::put().to(import))
            .default_service(web::to(method_not_allowed)),
    );
}

/// The document, read and written on a blocking thread (it may hold millions of accounts).
async fn export(state: web::Data<AppState>) -> Result<HttpResponse, ControlError> {
    let body = web::block(move || {
        for _ in 0..state_file::TRIES {
            let mut body = Vec::new();
            match state_file::export(&state, &mut body) {
                Ok(_) => return Ok(body),
                Err(state_file::Interrupted) => {}
                Err(e @ state_file::ExportError::Io(_)) => {
                    return Err(ControlError::BadRequest(format!("the export failed: {e}")));
                }
            }
        }
        Err(ControlError::Busy(format!(
            "the state was reset or replaced while it was read, {} times; try again",
            state_file::TRIES
        )))
    })
    .await
    .map_err(|e| ControlError::BadRequest(format!("the export failed: {e}")))??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body))
}

/// Checks the whole document first: a bad one changes nothing.
async fn import(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let limit = usize::try_from(state_file::MAX_BYTES).unwrap_or(usize::MAX);
    let body = crate::body::read(&req, payload, limit, state.body_timeout).await?;
    let app = state.clone();
    let counts = web::block(move || -> Result<_, String> {
        let doc = state_file::parse(&body)?;
        let prepared = state_file::prepare(&app, doc)?;
        state_file::import(&app, prepared);
        Ok((
            app.store.len(),
            app.transactions.len(),
            app.notifications.len(),
        ))
    })
    .await
    .map_err(|e| ControlError::BadRequest(format!("the import failed: {e}")))?
    .map_err(ControlError::BadRequest)?;
    Ok(HttpResponse::Ok().json(json!({
        "imported": {
            "accounts": counts.0,
            "transactions": counts.1,
            "notifications": counts.2,
        }
    })))
}

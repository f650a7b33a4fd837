//! `/__admin/faults`: fault and latency rules for the Midtrans routes ([`crate::faults`]).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ControlError, merchant_scope, method_not_allowed, read_json};
use crate::app::AppState;
use crate::faults::RuleSpec;
use crate::{paging, routing};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/faults")
            .route(routing::get().to(list))
            .route(routing::post().to(add))
            .route(routing::delete().to(clear))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/faults/{id}")
            .route(routing::get().to(show))
            .route(routing::delete().to(remove))
            .default_service(web::to(method_not_allowed)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyQuery {
    server_key: Option<String>,
}

/// `POST /__admin/faults`: adds a rule; 201 with it (its `id`, `fired` and `remaining`).
async fn add(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let spec: RuleSpec = read_json(&state, &req, payload).await?;
    let rule = state.faults.add(spec).map_err(ControlError::BadRequest)?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(rule.to_json()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    server_key: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /__admin/faults[?server_key=&limit=&cursor=]`: a page of the rules, oldest first (the
/// order they are tried in). Written outside the rules' lock, which every Midtrans request takes,
/// and cut by size as the journal's pages are (a thousand rules of 256 KiB answers are a quarter
/// of a gigabyte).
async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ControlError> {
    let q = query.into_inner();
    let (limit, after) =
        paging::request(q.limit, q.cursor.as_deref()).map_err(ControlError::BadRequest)?;
    let (rules, next) = state.faults.list(q.server_key.as_deref(), after, limit);
    let out = paging::write_bounded(
        "faults",
        &rules,
        next,
        |r| r.id,
        |out, r| {
            out.extend_from_slice(r.to_json().get().as_bytes());
            Ok(())
        },
    )
    .map_err(|e| ControlError::Internal(format!("the page could not be written: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(out))
}

fn parse_id(req: &HttpRequest) -> Result<u64, ControlError> {
    req.match_info()
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or(ControlError::NotFound("fault rule"))
}

async fn show(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ControlError> {
    let rule = state
        .faults
        .get(parse_id(&req)?)
        .ok_or(ControlError::NotFound("fault rule"))?;
    Ok(HttpResponse::Ok().json(rule.to_json()))
}

/// `DELETE /__admin/faults/{id}`.
async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ControlError> {
    if state.faults.remove(parse_id(&req)?) {
        Ok(HttpResponse::Ok().json(json!({ "deleted": 1 })))
    } else {
        Err(ControlError::NotFound("fault rule"))
    }
}

/// `DELETE /__admin/faults[?server_key=]`: every rule, or one merchant's.
async fn clear(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<KeyQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let key = merchant_scope(&state, &req, query.into_inner().server_key, payload).await?;
    let deleted = state.faults.clear(key.as_deref());
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}

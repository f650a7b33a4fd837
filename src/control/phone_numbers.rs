//! `/__admin/phone-numbers`: the phone number scenarios in effect, and those a test adds, replaces
//! or removes while the server runs ([`crate::scenarios`]).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ControlError, merchant_scope, method_not_allowed, read_json};
use crate::app::AppState;
use crate::fixtures::{Outcome, PaymentOptionFixture, PhoneScenario, check_scenario};
use crate::limits::check_server_key;
use crate::{paging, routing};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/phone-numbers")
            .route(routing::get().to(list))
            .route(routing::delete().to(clear))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/phone-numbers/{number}")
            .route(routing::get().to(show))
            .route(routing::put().to(put))
            .route(routing::delete().to(remove))
            .default_service(web::to(method_not_allowed)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyQuery {
    server_key: Option<String>,
    country_code: Option<String>,
}

/// The fields of `fixtures/phone_numbers.json`, and the key it is for (everybody without one).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PutBody {
    phone_number: Option<String>,
    country_code: Option<String>,
    outcome: Option<Outcome>,
    description: Option<String>,
    payment_options: Option<Vec<PaymentOptionFixture>>,
    server_key: Option<String>,
}

fn number(req: &HttpRequest) -> String {
    req.match_info()
        .get("number")
        .unwrap_or_default()
        .to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    server_key: Option<String>,
    /// Accepted and ignored, as before the list had pages.
    #[allow(dead_code)]
    country_code: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /__admin/phone-numbers[?server_key=][&limit=][&cursor=]`: a page of the scenarios in effect
/// (for that key: its own, everybody's and the fixtures'), added ones first.
async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ControlError> {
    let q = query.into_inner();
    let (limit, after) =
        paging::request(q.limit, q.cursor.as_deref()).map_err(ControlError::BadRequest)?;
    Ok(page(&state, q.server_key.as_deref(), after, limit))
}

fn page(
    state: &AppState,
    server_key: Option<&str>,
    after: Option<u64>,
    limit: usize,
) -> HttpResponse {
    let (listed, next) = state.scenarios.page(server_key, after, limit);
    HttpResponse::Ok().json(json!({
        "phone_numbers": listed,
        "next_cursor": paging::cursor_string(next),
    }))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<KeyQuery>,
) -> Result<HttpResponse, ControlError> {
    let n = number(&req);
    let listed = state.scenarios.of_number(query.server_key.as_deref(), &n);
    if listed.is_empty() {
        return Err(ControlError::NotFound("phone number scenario"));
    }
    Ok(HttpResponse::Ok().json(json!({ "phone_numbers": listed })))
}

/// `PUT /__admin/phone-numbers/{number}`: adds (201) or replaces (200) the scenario of that number
/// and country code, for `server_key` or everybody.
async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let n = number(&req);
    let body: PutBody = read_json(&state, &req, payload).await?;
    if body.phone_number.as_ref().is_some_and(|p| *p != n) {
        return Err(ControlError::BadRequest(format!(
            "phone_number in the body must be the one in the path ('{}')",
            n.escape_debug()
        )));
    }
    let outcome = body.outcome.ok_or_else(|| {
        ControlError::BadRequest(
            "outcome is required: pending, user_not_found or user_blocked".into(),
        )
    })?;
    if let Some(key) = &body.server_key {
        check_server_key("server_key", key).map_err(ControlError::BadRequest)?;
    }
    let scenario = PhoneScenario {
        phone_number: n,
        country_code: body.country_code,
        outcome,
        description: body.description,
        payment_options: body.payment_options,
    };
    check_scenario(&scenario).map_err(ControlError::BadRequest)?;
    let new = state
        .scenarios
        .put(body.server_key.clone(), scenario.clone())
        .map_err(ControlError::BadRequest)?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(crate::scenarios::Listed {
        scenario,
        server_key: body.server_key,
        source: crate::scenarios::Source::Runtime,
    }))
}

/// `DELETE /__admin/phone-numbers/{number}[?server_key=&country_code=]`: the scenarios added for
/// that key (or everybody); with no key and none added, the fixtures' until the next reset.
async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<KeyQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let KeyQuery {
        server_key,
        country_code,
    } = query.into_inner();
    let key = merchant_scope(&state, &req, server_key, payload).await?;
    let deleted = state
        .scenarios
        .remove(key.as_deref(), &number(&req), country_code.as_deref());
    if deleted == 0 {
        return Err(ControlError::NotFound("phone number scenario"));
    }
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}

/// `DELETE /__admin/phone-numbers[?server_key=]`: the scenarios added at run time (of one key);
/// without a key, the fixtures' are all back.
async fn clear(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<KeyQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ControlError> {
    let KeyQuery {
        server_key,
        country_code,
    } = query.into_inner();
    if country_code.is_some() {
        return Err(ControlError::BadRequest(
            "country_code names one number's scenario: DELETE /__admin/phone-numbers/{number}"
                .into(),
        ));
    }
    let key = merchant_scope(&state, &req, server_key, payload).await?;
    match &key {
        Some(key) => state.scenarios.reset_key(key),
        None => state.scenarios.reset(),
    }
    // What is in effect afterwards, as the list's first page.
    Ok(page(&state, key.as_deref(), None, paging::DEFAULT_LIMIT))
}

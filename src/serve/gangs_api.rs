//! Gang routes: the gangs of the live state, scored and flagged by the tenant's gang rule as
//! they stand now, and one gang with its accounts. Thin: parse, call the tenant, serialise.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::{ApiError, Code};
use super::{blocking, Data};
use crate::state::tenant::GangQuery;

pub fn config_gangs_api(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/v1/gangs", "GET").route(web::get().to(list_gangs)))
        .service(super::resource("/v1/gangs/{id}", "GET").route(web::get().to(get_gang)));
}

/// Which gangs to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GangsParams {
    /// Flagged gangs only.
    flagged: Option<bool>,
    /// Gangs with a sign-up at or after this time: Unix seconds or RFC 3339.
    #[serde(default, deserialize_with = "crate::data::plausible::de_opt_time")]
    #[param(schema_with = crate::state::events::time_schema)]
    since: Option<i64>,
    /// At most this many (default 100, at most 1,000), highest score first.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/gangs", tag = "gangs", params(GangsParams),
    responses((status = 200, description = "gangs (id, size, keys with accounts on each, first and last sign-up, velocity, campaign and burst, benefits, orders, paid, took without buying at full price, reviewed wool, score, flag and reason in words), highest score first", body = Object),
        (status = 400, description = "`invalid_field`: a bad query parameter", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn list_gangs(
    req: HttpRequest,
    state: Data,
    query: web::Query<GangsParams>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    let limit = query.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("limit: {limit}; from 1 to 1000"),
        ));
    }
    if let Some(t) = query.since {
        crate::data::plausible::TimeWindow::live()
            .check(t)
            .map_err(|e| ApiError::new(Code::InvalidField, format!("since: {}", e.0)))?;
    }
    let q = GangQuery {
        flagged: query.flagged.unwrap_or(false),
        since: query.since,
        limit,
    };
    let gangs = blocking(move || tenant.gangs(&q)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "gangs": gangs })))
}

#[utoipa::path(get, path = "/v1/gangs/{id}", tag = "gangs", params(("id" = String, Path, description = "`g-` and a member id")),
    responses((status = 200, description = "the gang that member is in now, with its accounts' member ids", body = Object),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_gang`", body = ApiError)),
    security(("api_key" = [])))]
async fn get_gang(
    req: HttpRequest,
    state: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    let id = path.into_inner();
    let wanted = id.clone();
    match blocking(move || tenant.gang(&wanted)).await? {
        Some(g) => Ok(HttpResponse::Ok().json(g)),
        None => Err(ApiError::new(
            Code::UnknownGang,
            format!("no gang '{id}' (ids are g- and a member id of a group of accounts)"),
        )),
    }
}

//! Rule routes: a tenant's rule set as it stands, and an administrator's swap of the whole set.
//! Thin: parse, call the tenant, serialise; the checks are `crate::scoring::rules`'.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::json::Body;
use super::{blocking, Data};
use crate::scoring::rules::{RuleSpec, RulesFile};

pub fn config_rules_api(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/v1/rules", "GET, PUT")
            .route(web::get().to(get_rules))
            .route(web::put().to(put_rules)),
    );
}

/// A tenant's rules, in the order they were written.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RulesInfo {
    tenant: String,
    rules: Vec<RuleSpec>,
}

#[utoipa::path(get, path = "/v1/rules", tag = "rules",
    responses((status = 200, description = "the tenant's rules as written", body = RulesInfo),
        (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn get_rules(req: HttpRequest, state: Data) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    let models = tenant.snapshot()?;
    Ok(HttpResponse::Ok().json(RulesInfo {
        tenant: tenant.name.clone(),
        rules: models.rules.spec().rules.clone(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRules {
    tenant: String,
    /// The whole new rule set (an empty list removes every rule).
    rules: Vec<RuleSpec>,
}

/// Checks the whole set, rescores the tenant's members under it off the request threads, stores
/// it durably and swaps it in; a set that does not check changes nothing.
#[utoipa::path(put, path = "/v1/rules", tag = "rules", request_body = PutRules,
    responses((status = 200, description = "the rules now deciding", body = RulesInfo),
        (status = 400, description = "`invalid_rules` (naming the rule and the column), `malformed_json` or `invalid_field`", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError),
        (status = 403, description = "no admin key is configured", body = ApiError),
        (status = 404, description = "`unknown_tenant`", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError),
        (status = 503, description = "the store is unavailable; nothing changed", body = ApiError)),
    security(("admin_key" = [])))]
async fn put_rules(
    req: HttpRequest,
    state: Data,
    body: Body<PutRules>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let body = body.into_inner();
    let tenant = state.named(&body.tenant)?.clone();
    let t = tenant.clone();
    let file = RulesFile { rules: body.rules };
    let models = blocking(move || t.set_rules(file)).await?;
    tracing::info!(tenant = %tenant.name, rules = models.rules.rules().len(), "rules swapped");
    Ok(HttpResponse::Ok().json(RulesInfo {
        tenant: tenant.name.clone(),
        rules: models.rules.spec().rules.clone(),
    }))
}

//! Routes around a model in service: a challenger beside a live model (set, step, stop), the
//! comparisons it has logged, and the drift of live sign-up traffic from the sign-up model's
//! training population. Thin: parse, call the tenant, serialise.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::admin_api::{model_info, ModelsInfo};
use super::error::{ApiError, Code};
use super::json::Body;
use super::{blocking, Data};
use crate::model::drift::Drift;
use crate::state::tenant::challenger::{ChallengerConfig, ShadowEntry};

pub fn config_models_api(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/v1/models/challenger", "PUT").route(web::put().to(put_challenger)),
    )
    .service(
        super::resource("/v1/models/challenger/step", "POST")
            .route(web::post().to(step_challenger)),
    )
    .service(
        super::resource("/v1/models/challenger/stop", "POST")
            .route(web::post().to(stop_challenger)),
    )
    .service(super::resource("/v1/models/shadow", "GET").route(web::get().to(get_shadow)))
    .service(super::resource("/v1/drift", "GET").route(web::get().to(get_drift)));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengerRequest {
    tenant: String,
    challenger: ChallengerConfig,
    /// Set a member challenger whose decisions on the tenant's members fall outside the smoke
    /// band.
    #[serde(default)]
    force: bool,
}

#[utoipa::path(put, path = "/v1/models/challenger", tag = "models", request_body = ChallengerRequest,
    responses((status = 200, description = "the models now serving, the challenger among them", body = ModelsInfo),
        (status = 400, description = "`model_refused` (nothing changes), `invalid_field` (steps, step, log_entries), `malformed_json`", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError),
        (status = 403, description = "no admin key is configured", body = ApiError),
        (status = 404, description = "`unknown_tenant`, or `unknown_model`: no model file at the path", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError)),
    security(("admin_key" = [])))]
async fn put_challenger(
    req: HttpRequest,
    state: Data,
    body: Body<ChallengerRequest>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?.clone();
    let band = state.smoke;
    let body = body.into_inner();
    let t = tenant.clone();
    blocking(move || t.set_challenger(body.challenger, body.force, &band)).await?;
    tracing::info!(tenant = %tenant.name, "challenger set");
    Ok(HttpResponse::Ok().json(model_info(&tenant)?))
}

/// Which way a rollout moves.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Forward,
    Back,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    tenant: String,
    direction: Direction,
}

#[utoipa::path(post, path = "/v1/models/challenger/step", tag = "models", request_body = StepRequest,
    responses((status = 200, description = "the models now serving, with the challenger's new step", body = ModelsInfo),
        (status = 400, description = "`invalid_field`: already at the first or last step; `malformed_json`", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError),
        (status = 403, description = "no admin key is configured", body = ApiError),
        (status = 404, description = "`unknown_tenant`", body = ApiError),
        (status = 409, description = "`no_challenger`: none is set", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError)),
    security(("admin_key" = [])))]
async fn step_challenger(
    req: HttpRequest,
    state: Data,
    body: Body<StepRequest>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?;
    let step = tenant.move_challenger(matches!(body.direction, Direction::Forward))?;
    tracing::info!(tenant = %tenant.name, step, "challenger rollout moved");
    Ok(HttpResponse::Ok().json(model_info(tenant)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantOnly {
    tenant: String,
}

#[utoipa::path(post, path = "/v1/models/challenger/stop", tag = "models", request_body = TenantOnly,
    responses((status = 200, description = "the live models, alone again", body = ModelsInfo),
        (status = 400, description = "`malformed_json`", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError),
        (status = 403, description = "no admin key is configured", body = ApiError),
        (status = 404, description = "`unknown_tenant`", body = ApiError),
        (status = 409, description = "`no_challenger`: none is set", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError)),
    security(("admin_key" = [])))]
async fn stop_challenger(
    req: HttpRequest,
    state: Data,
    body: Body<TenantOnly>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?.clone();
    if tenant.challenger()?.is_none() {
        return Err(crate::state::StateError::NoChallenger.into());
    }
    let t = tenant.clone();
    blocking(move || t.stop_challenger()).await?;
    tracing::info!(tenant = %tenant.name, "challenger stopped");
    Ok(HttpResponse::Ok().json(model_info(&tenant)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ShadowParams {
    /// The newest this many comparisons (default 100, at most 10,000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
}

/// The newest comparisons the challenger logged.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShadowLog {
    entries: Vec<ShadowEntry>,
}

#[utoipa::path(get, path = "/v1/models/shadow", tag = "models", params(ShadowParams),
    responses((status = 200, description = "the newest comparisons, oldest first: both models' probability, decision and reason codes, and whose answer was given", body = ShadowLog),
        (status = 400, description = "`invalid_field`: a bad query parameter", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 409, description = "`no_challenger`: none is set", body = ApiError)),
    security(("api_key" = [])))]
async fn get_shadow(
    req: HttpRequest,
    state: Data,
    query: web::Query<ShadowParams>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("limit: {limit}; from 1 to 10000"),
        ));
    }
    let c = tenant
        .challenger()?
        .ok_or(crate::state::StateError::NoChallenger)?;
    Ok(HttpResponse::Ok().json(ShadowLog {
        entries: c.recent(limit),
    }))
}

/// Live drift, or why there is none yet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveDrift {
    /// The sign-up model the traffic is compared with.
    model_version: String,
    /// `null` until a candidate was scored by a model that keeps its training profile.
    drift: Option<Drift>,
}

#[utoipa::path(get, path = "/v1/drift", tag = "models",
    responses((status = 200, description = "the sign-up candidates scored since the sign-up model was swapped in, against its training population: PSI per feature and for the score, overall, by channel and by campaign, with the features that moved", body = LiveDrift),
        (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn get_drift(req: HttpRequest, state: Data) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    Ok(HttpResponse::Ok().json(LiveDrift {
        model_version: tenant.snapshot()?.signup.version.clone(),
        drift: tenant.live_drift(state.drift_threshold)?,
    }))
}

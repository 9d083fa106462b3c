//! Operations routes (health, readiness, metrics, the OpenAPI document) and the answers for
//! requests no route takes: 404 `no_route`, 405 `method_not_allowed` with `Allow`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::{ApiError, Code};
use super::metrics::ModelOps;
use super::Data;

/// The operations routes.
pub fn config_ops_api(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz", "GET").route(web::get().to(healthz)))
        .service(super::resource("/readyz", "GET").route(web::get().to(readyz)))
        .service(super::resource("/metrics", "GET").route(web::get().to(prometheus)))
        .service(super::resource("/v1/openapi.json", "GET").route(web::get().to(openapi)));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `ready`.
    status: &'static str,
    tenants: usize,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process is up", body = Health)))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "serving", body = Ready), (status = 503, description = "shutting down", body = ApiError)))]
async fn readyz(state: Data) -> Result<HttpResponse, ApiError> {
    if state.ready.load(std::sync::atomic::Ordering::Relaxed) {
        Ok(HttpResponse::Ok().json(Ready {
            status: "ready",
            tenants: state.tenants.len(),
        }))
    } else {
        Err(ApiError::new(Code::NotReady, "shutting down"))
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text: requests and latency by tenant, route and status, decisions by tenant and route, events taken and skipped, model versions, verdicts by model version, a challenger's agreement and share, live drift (PSI) by feature", content_type = "text/plain")))]
async fn prometheus(state: Data) -> HttpResponse {
    let versions: Vec<(String, &'static str, String)> = state
        .tenants
        .iter()
        .filter_map(|t| t.snapshot().ok().map(|m| (t.name.clone(), m)))
        .flat_map(|(name, m)| {
            [
                (name.clone(), "member", m.member.version.clone()),
                (name, "signup", m.signup.version.clone()),
            ]
        })
        .collect();
    let ops: Vec<ModelOps> = state
        .tenants
        .iter()
        .map(|t| ModelOps {
            tenant: t.name.clone(),
            challenger: model_info_challenger(t),
            drift: t.live_drift(state.drift_threshold).ok().flatten(),
        })
        .collect();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&versions, &ops))
}

/// A tenant's challenger as `GET /v1/models` shows it.
fn model_info_challenger(
    t: &crate::state::Tenant,
) -> Option<crate::state::tenant::challenger::ChallengerInfo> {
    let models = t.snapshot().ok()?;
    let model = models.challenger.as_ref()?;
    Some(t.challenger().ok()??.info(&model.artefact.version))
}

/// The API's OpenAPI 3.1 description, generated from the handlers and their types.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "woolguard scorer", description = "Scores sign-up candidates and members for the wool party, filters campaign audiences, takes events and swaps models. Every answer that is not a 2xx is JSON `{code, message}` with a stable code; a method a path does not take is 405 with `Allow`. Times in requests are Unix seconds or RFC 3339 text."),
    paths(super::scoring_api::score_candidate, super::scoring_api::score_members,
        super::scoring_api::check_benefit,
        super::scoring_api::filter_audience, super::admin_api::post_events,
        super::admin_api::get_event, super::admin_api::get_state, super::admin_api::refresh_state,
        super::admin_api::export_state,
        super::admin_api::get_models, super::admin_api::reload_models,
        super::admin_api::get_list, super::admin_api::change_list, super::admin_api::delete_list,
        super::admin_api::change_ip_range, super::admin_api::delete_ip_range,
        super::rules_api::get_rules, super::rules_api::put_rules,
        super::gangs_api::list_gangs, super::gangs_api::get_gang,
        super::models_api::put_challenger, super::models_api::step_challenger,
        super::models_api::stop_challenger, super::models_api::get_shadow,
        super::models_api::get_drift,
        healthz, readyz, prometheus, openapi),
    components(schemas(crate::scoring::lists::IdListKey)),
    modifiers(&Keys)
)]
pub struct ApiDoc;

struct Keys;

impl utoipa::Modify for Keys {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
        c.add_security_scheme(
            "admin_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-admin-key"))),
        );
    }
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", responses((status = 200, description = "this API's OpenAPI description")))]
async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// The API description, with what utoipa cannot derive: events refuse fields they do not have
/// (they are a tagged enum), and a recorded candidate needs its member id.
pub fn document() -> serde_json::Value {
    use utoipa::OpenApi;
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(variants) = doc
        .pointer_mut("/components/schemas/Event/oneOf")
        .and_then(serde_json::Value::as_array_mut)
    {
        for v in variants
            .iter_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            v.insert("additionalProperties".into(), false.into());
        }
    }
    if let Some(c) = doc
        .pointer_mut("/components/schemas/Candidate")
        .and_then(serde_json::Value::as_object_mut)
    {
        c.insert(
            "if".into(),
            serde_json::json!({"properties": {"record": {"const": true}}, "required": ["record"]}),
        );
        c.insert(
            "then".into(),
            serde_json::json!({"properties": {"member_id": {"type": "string", "minLength": 1}}, "required": ["member_id"]}),
        );
    }
    doc
}

/// A path no route has.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Code::NoRoute,
        format!("{} {} does not exist", req.method(), req.path()),
    ))
}

/// A method the path does not take: 405 with the methods it does take in `Allow`.
pub fn method_not_allowed(req: &HttpRequest, allowed: &str) -> HttpResponse {
    let e = ApiError::new(
        Code::MethodNotAllowed,
        format!(
            "{} {} is not allowed; use {allowed}",
            req.method(),
            req.path()
        ),
    );
    let mut res = actix_web::ResponseError::error_response(&e);
    if let Ok(v) = header::HeaderValue::from_str(allowed) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

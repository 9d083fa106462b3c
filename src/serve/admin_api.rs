//! Routes that change or show a tenant's state: its models (show, reload), its allow / deny
//! lists, its events (take, look up, fold in). Thin: parse, call the tenant, serialise.

use std::path::PathBuf;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, Code};
use super::json::Body;
use super::scoring_api::check_ids;
use super::{blocking, Data};
use crate::model::policy::Thresholds;
use crate::scoring::lists::IdListKey;
use crate::scoring::{ListKey, ListKind};
use crate::state::events;
use crate::state::store::Appended;
use crate::state::tenant::{self, Models, Tenant};

/// The model, list and event routes.
pub fn config_admin_api(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/v1/models", "GET").route(web::get().to(get_models)))
        .service(super::resource("/v1/models/reload", "POST").route(web::post().to(reload_models)))
        .service(super::resource("/v1/lists/{list}/{key}", "GET").route(web::get().to(get_list)))
        .service(
            super::resource("/v1/lists/{list}/ip_range/{range}", "PUT, DELETE")
                .route(web::put().to(change_ip_range))
                .route(web::delete().to(delete_ip_range)),
        )
        .service(
            super::resource("/v1/lists/{list}/{key}/{value}", "PUT, DELETE")
                .route(web::put().to(change_list))
                .route(web::delete().to(delete_list)),
        )
        .service(super::resource("/v1/events", "POST").route(web::post().to(post_events)))
        .service(super::resource("/v1/events/{id}", "GET").route(web::get().to(get_event)))
        .service(super::resource("/v1/state", "GET").route(web::get().to(get_state)))
        .service(super::resource("/v1/state/refresh", "POST").route(web::post().to(refresh_state)))
        .service(super::resource("/v1/state/export", "POST").route(web::post().to(export_state)));
}

/// One model as served.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelInfo {
    version: String,
    #[schema(value_type = String)]
    path: PathBuf,
    /// wool or value.
    target: &'static str,
    /// recruitment or member.
    moment: &'static str,
    #[schema(value_type = Object)]
    thresholds: Thresholds,
    /// How many features the model reads.
    features: usize,
    data_fingerprint: String,
}

/// A tenant's models.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelsInfo {
    tenant: String,
    member: ModelInfo,
    signup: ModelInfo,
    /// UTC seconds: the member scores are as of this moment.
    scores_as_of: i64,
    /// A second model beside one of them (shadow or rollout), with its agreement so far.
    challenger: Option<tenant::challenger::ChallengerInfo>,
}

pub(super) fn model_info(t: &Tenant) -> Result<ModelsInfo, ApiError> {
    let m = t.snapshot()?;
    let one = |a: &crate::model::artefact::Artefact, path: &std::path::Path| ModelInfo {
        version: a.version.clone(),
        path: path.to_path_buf(),
        target: a.target.name(),
        moment: match a.moment {
            crate::features::Moment::Recruitment => "recruitment",
            crate::features::Moment::Member => "member",
        },
        thresholds: a.thresholds,
        features: a.features.len(),
        data_fingerprint: a.data.fingerprint.clone(),
    };
    Ok(ModelsInfo {
        tenant: t.name.clone(),
        member: one(&m.member, &m.member_path),
        signup: one(&m.signup, &m.signup_path),
        scores_as_of: m.as_of,
        challenger: match (t.challenger()?, &m.challenger) {
            (Some(c), Some(model)) => Some(c.info(&model.artefact.version)),
            _ => None,
        },
    })
}

#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses((status = 200, description = "the tenant's member and sign-up models: version, path, target, moment, thresholds", body = ModelsInfo),
        (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn get_models(req: HttpRequest, state: Data) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    Ok(HttpResponse::Ok().json(model_info(tenant)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    tenant: String,
    /// New paths; the current ones are re-read where absent.
    #[schema(value_type = Option<String>)]
    model: Option<PathBuf>,
    #[schema(value_type = Option<String>)]
    signup_model: Option<PathBuf>,
    /// Swap in a model whose decisions on the tenant's members fall outside the smoke band.
    #[serde(default)]
    force: bool,
}

/// Loads and checks the new models off the request threads (each fits its slot; unless forced,
/// its decisions on the tenant's own members stay inside the smoke band), then swaps them in
/// one step; a refused model leaves the old ones serving.
#[utoipa::path(post, path = "/v1/models/reload", tag = "models", request_body = ReloadRequest,
    responses((status = 200, description = "the models now serving", body = ModelsInfo),
        (status = 400, description = "`model_refused` (the old model keeps serving), `malformed_json` or `invalid_field`", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError),
        (status = 403, description = "no admin key is configured", body = ApiError),
        (status = 404, description = "`unknown_tenant`, or `unknown_model`: no model file at the path", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError)),
    security(("admin_key" = [])))]
async fn reload_models(
    req: HttpRequest,
    state: Data,
    body: Body<ReloadRequest>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?.clone();
    let body = body.into_inner();
    let band = state.smoke;
    let t = tenant.clone();
    let outcome = blocking(move || -> Result<String, ApiError> {
        let old = t.snapshot()?;
        let member = body.model.unwrap_or_else(|| old.member_path.clone());
        let signup = body.signup_model.unwrap_or_else(|| old.signup_path.clone());
        let new = t.rebuild(|old| {
            let mut new = Models::load(old.history.clone(), &member, &signup, old.rules.clone())?;
            // A challenger stays beside the new models.
            if old.challenger.is_some() {
                new = new.with_challenger(old.challenger_spec())?;
            }
            if !body.force {
                new.smoke(&band)?;
            }
            Ok(new)
        })?;
        Ok(format!("{} / {}", new.member.version, new.signup.version))
    })
    .await;
    match &outcome {
        Ok(versions) => {
            tracing::info!(tenant = %tenant.name, versions = %versions, "models reloaded")
        }
        Err(e) => {
            tracing::warn!(tenant = %tenant.name, code = %e.code, reason = %e.message, "model reload refused; the old models keep serving")
        }
    }
    outcome?;
    Ok(HttpResponse::Ok().json(model_info(&tenant)?))
}

/// A list's entries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListEntries {
    list: ListKind,
    key: ListKey,
    values: Vec<String>,
}

/// What a list change did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListChange {
    list: ListKind,
    key: ListKey,
    /// The value as stored: an IP range as its network (`10.1.2.0/24`).
    value: String,
    changed: bool,
}

#[utoipa::path(get, path = "/v1/lists/{list}/{key}", tag = "lists",
    params(("list" = crate::scoring::ListKind, Path, description = "allow or deny"), ("key" = crate::scoring::ListKey, Path, description = "what the entries are keyed by")),
    responses((status = 200, description = "the entries", body = ListEntries),
        (status = 400, description = "a malformed path", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_list` or `unknown_list_key`", body = ApiError)),
    security(("api_key" = [])))]
async fn get_list(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    let (list, key) = (ListKind::parse(&path.0)?, ListKey::parse(&path.1)?);
    let values = tenant.list_values(list, key)?;
    Ok(HttpResponse::Ok().json(ListEntries { list, key, values }))
}

#[utoipa::path(put, path = "/v1/lists/{list}/{key}/{value}", tag = "lists",
    params(("list" = crate::scoring::ListKind, Path), ("key" = IdListKey, Path),
        ("value" = String, Path, pattern = r"^[^\x00-\x1f\x7f-\x9f\ufffd]{1,256}$", description = "member id, device id or phone hash: printable, 1 to 256 characters")),
    responses((status = 200, description = "whether the list changed, and the value as stored", body = ListChange),
        (status = 400, description = "`invalid_field`: a value that can never match", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_list` or `unknown_list_key`", body = ApiError),
        (status = 503, description = "the store is unavailable; nothing changed", body = ApiError)),
    security(("api_key" = [])))]
async fn change_list(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (list, key, value) = path.into_inner();
    let key = ListKey::parse(&key)?;
    set_entry(&req, &state, &list, key, &value).await
}

#[utoipa::path(delete, path = "/v1/lists/{list}/{key}/{value}", tag = "lists",
    params(("list" = crate::scoring::ListKind, Path), ("key" = IdListKey, Path),
        ("value" = String, Path, pattern = r"^[^\x00-\x1f\x7f-\x9f\ufffd]{1,256}$", description = "as for PUT")),
    responses((status = 200, description = "whether the list changed", body = ListChange),
        (status = 400, description = "`invalid_field`: a value that can never match", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_list` or `unknown_list_key`", body = ApiError),
        (status = 503, description = "the store is unavailable; nothing changed", body = ApiError)),
    security(("api_key" = [])))]
async fn delete_list(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    change_list(req, state, path).await
}

#[utoipa::path(put, path = "/v1/lists/{list}/ip_range/{range}", tag = "lists",
    params(("list" = crate::scoring::ListKind, Path),
        ("range" = String, Path, pattern = r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){2}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:/(?:[89]|[12][0-9]|3[0-2]))?)?$", description = "a network: `10.1.2.0%2F24` (CIDR, /8 or longer), a single address `10.1.2.7`, the bare /24 prefix `10.1.2`; IPv6 networks (`2001:db8:1::%2F48`, /16 or longer) are taken too. Stored as its network (`10.1.2.0/24`), matched by containment")),
    responses((status = 200, description = "whether the list changed, and the range as stored", body = ListChange),
        (status = 400, description = "`invalid_field`: not an IP range", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_list`", body = ApiError),
        (status = 503, description = "the store is unavailable; nothing changed", body = ApiError)),
    security(("api_key" = [])))]
async fn change_ip_range(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (list, range) = path.into_inner();
    set_entry(&req, &state, &list, ListKey::IpRange, &range).await
}

#[utoipa::path(delete, path = "/v1/lists/{list}/ip_range/{range}", tag = "lists",
    params(("list" = crate::scoring::ListKind, Path), ("range" = String, Path, pattern = r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){2}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:/(?:[89]|[12][0-9]|3[0-2]))?)?$", description = "as for PUT")),
    responses((status = 200, description = "whether the list changed", body = ListChange),
        (status = 400, description = "`invalid_field`: not an IP range", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_list`", body = ApiError),
        (status = 503, description = "the store is unavailable; nothing changed", body = ApiError)),
    security(("api_key" = [])))]
async fn delete_ip_range(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    change_ip_range(req, state, path).await
}

/// Puts (PUT) or removes (DELETE) one list entry.
async fn set_entry(
    req: &HttpRequest,
    state: &Data,
    list: &str,
    key: ListKey,
    value: &str,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(req)?;
    let list = ListKind::parse(list)?;
    let present = req.method() != actix_web::http::Method::DELETE;
    let (value, changed) = tenant.change_list(list, key, value, present)?;
    tracing::info!(tenant = %tenant.name, list = list.name(), key = key.name(), value = %value, present, changed, "list changed");
    Ok(HttpResponse::Ok().json(ListChange {
        list,
        key,
        value,
        changed,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsRequest {
    events: Vec<events::Event>,
}

/// Acknowledged only once durable; idempotent by event id.
#[utoipa::path(post, path = "/v1/events", tag = "events", request_body = EventsRequest,
    responses((status = 200, description = "acknowledged: durable; duplicates by event id are not stored again", body = Appended),
        (status = 400, description = "`malformed_json`, or `invalid_field` naming `events[i].field` (a time outside 2000-01-01 .. now + 1 day, an amount over 1e9, an unknown spelling); nothing of the batch is stored", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 409, description = "the scorer runs without a state folder", body = ApiError),
        (status = 413, description = "too many events or body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError),
        (status = 503, description = "the event store is unavailable; nothing was acknowledged", body = ApiError)),
    security(("api_key" = [])))]
async fn post_events(
    req: HttpRequest,
    state: Data,
    body: Body<EventsRequest>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    check_ids(&state, body.events.len())?;
    let body = body.into_inner();
    let appended = blocking(move || tenant.ingest(&body.events)).await?;
    Ok(HttpResponse::Ok().json(appended))
}

/// An event that is stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventStored {
    event_id: String,
    stored: bool,
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, description = "the event is stored", body = EventStored),
        (status = 400, description = "`invalid_field`: a malformed path", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_event`: not stored", body = ApiError),
        (status = 503, description = "the event store is unavailable", body = ApiError)),
    security(("api_key" = [])))]
async fn get_event(
    req: HttpRequest,
    state: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    if tenant.has_event(&path)? {
        Ok(HttpResponse::Ok().json(EventStored {
            event_id: path.into_inner(),
            stored: true,
        }))
    } else {
        Err(ApiError::new(
            Code::UnknownEvent,
            format!("event '{}' is not stored", *path),
        ))
    }
}

/// Where the tenant's state stands: its store, the log position applied, events pending.
#[utoipa::path(get, path = "/v1/state", tag = "events",
    responses((status = 200, description = "the tenant's state", body = tenant::StateStatus),
        (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn get_state(req: HttpRequest, state: Data) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    Ok(HttpResponse::Ok().json(tenant.status()?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantRequest {
    tenant: String,
}

/// Folds the events acknowledged since the snapshot into the member scores now (admin).
#[utoipa::path(post, path = "/v1/state/refresh", tag = "events", request_body = TenantRequest,
    responses((status = 200, description = "events folded into the member scores", body = tenant::Refreshed),
        (status = 400, description = "`malformed_json` or `invalid_field`", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError),
        (status = 403, description = "no admin key is configured", body = ApiError),
        (status = 404, description = "unknown tenant", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError)),
    security(("admin_key" = [])))]
async fn refresh_state(
    req: HttpRequest,
    state: Data,
    body: Body<TenantRequest>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?.clone();
    let done = blocking(move || tenant.refresh()).await?;
    Ok(HttpResponse::Ok().json(done))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    tenant: String,
    /// The folder's name under `<state>/<tenant>/exports/`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    name: String,
    /// Write over an export of that name.
    #[serde(default)]
    replace: bool,
}

/// Writes the tenant's history with every acknowledged event folded in (reviews as labels) as a
/// contract folder `train` reads, while the scorer keeps serving (admin).
#[utoipa::path(post, path = "/v1/state/export", tag = "events", request_body = ExportRequest,
    responses((status = 200, description = "what was written: the folder, events folded (reviews, holds), rows per table, the fingerprint", body = crate::state::export::Exported),
        (status = 400, description = "`malformed_json`, or `invalid_field`: a name that is not 1 to 64 letters, digits, '-' or '_'", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError),
        (status = 403, description = "no admin key is configured", body = ApiError),
        (status = 404, description = "unknown tenant", body = ApiError),
        (status = 409, description = "`no_event_store`: the scorer runs without a state folder; `export_exists`: an export of that name exists and `replace` is not set", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError)),
    security(("admin_key" = [])))]
async fn export_state(
    req: HttpRequest,
    state: Data,
    body: Body<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?.clone();
    let body = body.into_inner();
    let done = blocking(move || tenant.export(&body.name, body.replace)).await?;
    Ok(HttpResponse::Ok().json(done))
}

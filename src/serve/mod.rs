//! The scorer: an actix-web service scoring sign-up candidates and members, filtering campaign
//! audiences, and swapping models without downtime (DESIGN.md §5–§7).
//!
//! Handlers are thin: they authenticate, parse, call [`tenant::Tenant`] and serialise. Every
//! error goes through [`error::ApiError`]. A tenant is chosen by its API key, so one brand's key
//! can never reach another brand's members, lists or models.

pub mod audience;
pub mod error;
pub mod events;
pub mod metrics;
pub mod tenant;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use audience::{AudienceQuery, AudienceRequest};
use error::{json_error, ApiError};
use metrics::Metrics;
use tenant::{Candidate, ListKey, ListKind, Models, Tenant};

/// One brand: its keys, its history and its models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: String,
    pub api_keys: Vec<String>,
    /// History folder the online state and member scores are built from; without it, the
    /// snapshot `woolguard state init` wrote into the state folder.
    pub data: Option<PathBuf>,
    /// Member-time model (members, audiences).
    pub model: PathBuf,
    /// Recruitment-time model (candidates).
    pub signup_model: PathBuf,
}

/// The service's configuration, from a TOML file and/or flags and `WOOLGUARD_*` variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    pub bind: String,
    #[serde(skip_serializing)]
    pub admin_key: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most ids in one members or audience request.
    pub max_ids: usize,
    /// Folder of the tenants' durable state (see [`StateDir`]); without it `POST /v1/events`
    /// is refused.
    pub state: Option<PathBuf>,
    /// Seconds between folds of newly acknowledged events into the member scores (0: only on
    /// `POST /v1/state/refresh`).
    pub refresh_secs: u64,
    /// Offered instead of a plain no on review decisions, e.g. "welcome benefit after the first
    /// order".
    pub review_remedy: Option<String>,
    #[serde(skip_serializing)]
    pub tenants: Vec<TenantConfig>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            bind: "127.0.0.1:8080".to_string(),
            admin_key: None,
            max_body_bytes: 64 * 1024 * 1024,
            max_ids: 2_000_000,
            state: None,
            refresh_secs: 60,
            review_remedy: Some("grant the welcome benefit after a first order".to_string()),
            tenants: Vec::new(),
        }
    }
}

/// Where one tenant's durable state lives under the state folder: `<state>/<tenant>/history/`
/// (a contract folder: the snapshot `woolguard state init` writes) and
/// `<state>/<tenant>/events.redb` (every event acknowledged since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    pub history: PathBuf,
    pub events: PathBuf,
}

impl StateDir {
    pub fn of(state: &Path, tenant: &str) -> Self {
        let dir = state.join(tenant);
        StateDir {
            history: dir.join("history"),
            events: dir.join("events.redb"),
        }
    }
}

/// What `woolguard state init` wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateInit {
    pub tenant: String,
    pub history: PathBuf,
    pub events: PathBuf,
    pub rows: crate::data::write::RowCounts,
    pub fingerprint: String,
}

/// Bootstraps a tenant's online state from a history folder: checks the history (the contract
/// reader refuses what the contract refuses), writes it as the state's snapshot and creates the
/// empty event store. Refuses a tenant whose state already holds events or a snapshot, unless
/// `replace`, since a snapshot taken over a log of events would apply them twice.
pub fn init_state(
    data: &Path,
    state: &Path,
    tenant: &str,
    replace: bool,
) -> anyhow::Result<StateInit> {
    let dir = StateDir::of(state, tenant);
    if !replace && (dir.history.exists() || dir.events.exists()) {
        anyhow::bail!(
            "{} already holds state for tenant '{tenant}'; pass --replace to start it over",
            state.display()
        );
    }
    let history = crate::data::load(data)?;
    if dir.events.exists() {
        std::fs::remove_file(&dir.events)
            .map_err(|e| anyhow::anyhow!("removing {}: {e}", dir.events.display()))?;
    }
    let rows = crate::data::write::write_history(&history, &dir.history)?;
    events::RedbStore::open(&dir.events).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(StateInit {
        tenant: tenant.to_string(),
        history: dir.history,
        events: dir.events,
        rows,
        fingerprint: crate::model::report::fingerprint(&history).fingerprint,
    })
}

/// Everything the handlers share.
pub struct AppState {
    pub tenants: Vec<Arc<Tenant>>,
    keys: HashMap<String, usize>,
    pub admin_key: Option<String>,
    pub max_ids: usize,
    pub max_body_bytes: usize,
    pub metrics: Metrics,
    pub ready: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Loads every tenant's history and models; any failure names the tenant and file.
    pub fn load(config: &ServeConfig) -> anyhow::Result<Self> {
        let mut tenants = Vec::new();
        let mut keys = HashMap::new();
        for (i, t) in config.tenants.iter().enumerate() {
            let fail = |e: ApiError| anyhow::anyhow!("tenant {}: {}", t.name, e.message);
            let dir = config.state.as_deref().map(|s| StateDir::of(s, &t.name));
            let data = match (&t.data, &dir) {
                (Some(d), _) => d.clone(),
                (None, Some(dir)) if dir.history.exists() => dir.history.clone(),
                (None, _) => anyhow::bail!(
                    "tenant {}: no history: give its data folder, or a state folder made by \
                     `woolguard state init`",
                    t.name
                ),
            };
            let history =
                crate::data::load(&data).map_err(|e| anyhow::anyhow!("tenant {}: {e}", t.name))?;
            let models =
                Models::load(Arc::new(history), &t.model, &t.signup_model).map_err(fail)?;
            let mut tenant = Tenant::new(&t.name, models, config.review_remedy.clone());
            if let Some(dir) = &dir {
                let store = events::RedbStore::open(&dir.events).map_err(fail)?;
                tenant = tenant.with_store(Box::new(store)).map_err(fail)?;
                // Every stored event reaches the member scores before the first request (with
                // none stored, the snapshot just loaded is already current).
                if tenant.pending().map_err(fail)? > 0 {
                    tenant.refresh().map_err(fail)?;
                }
            }
            tenants.push(Arc::new(tenant));
            for k in &t.api_keys {
                if keys.insert(k.clone(), i).is_some() {
                    anyhow::bail!("API key given to two tenants (second: {})", t.name);
                }
            }
        }
        Ok(Self::new(tenants, keys, config))
    }

    pub fn new(tenants: Vec<Arc<Tenant>>, keys: HashMap<String, usize>, c: &ServeConfig) -> Self {
        AppState {
            tenants,
            keys,
            admin_key: c.admin_key.clone(),
            max_ids: c.max_ids,
            max_body_bytes: c.max_body_bytes,
            metrics: Metrics::default(),
            ready: std::sync::atomic::AtomicBool::new(true),
        }
    }

    fn tenant(&self, req: &HttpRequest) -> Result<&Arc<Tenant>, ApiError> {
        let key = api_key(req, "x-api-key")
            .ok_or_else(|| ApiError::unauthorized("send your API key in the x-api-key header"))?;
        self.keys
            .get(key)
            .and_then(|&i| self.tenants.get(i))
            .ok_or_else(|| ApiError::unauthorized("unknown API key"))
    }

    /// A tenant by name (admin calls).
    fn named(&self, name: &str) -> Result<&Arc<Tenant>, ApiError> {
        self.tenants
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ApiError::not_found("unknown_tenant", format!("no tenant '{name}'")))
    }

    fn admin(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match (&self.admin_key, api_key(req, "x-admin-key")) {
            (Some(k), Some(given)) if k == given => Ok(()),
            (None, _) => Err(ApiError::new(
                403,
                "admin_disabled",
                "no admin key is configured",
            )),
            _ => Err(ApiError::unauthorized("admin key missing or wrong")),
        }
    }
}

fn api_key<'a>(req: &'a HttpRequest, header: &str) -> Option<&'a str> {
    req.headers().get(header).and_then(|v| v.to_str().ok())
}

type Data = web::Data<AppState>;

#[utoipa::path(post, path = "/v1/candidates/score", tag = "scoring", request_body = Candidate,
    responses((status = 200, description = "the candidate's score, decision and reasons", body = tenant::Verdict), (status = 400, description = "malformed or invalid body", body = ApiError), (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn score_candidate(
    req: HttpRequest,
    state: Data,
    body: web::Json<Candidate>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    let verdict = web::block(move || tenant.score_candidate(&body))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    state.metrics.decision(verdict.decision);
    Ok(HttpResponse::Ok().json(verdict))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MembersRequest {
    member_ids: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MembersResponse {
    model_version: String,
    /// UTC seconds: the scores are as of this moment (the newest event folded in).
    as_of: i64,
    members: Vec<MemberResult>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MemberResult {
    member_id: String,
    #[serde(flatten)]
    verdict: Option<tenant::Verdict>,
    error: Option<ApiError>,
}

#[utoipa::path(post, path = "/v1/members/score", tag = "scoring", request_body = MembersRequest,
    responses((status = 200, description = "`model_version`, `as_of` (UTC seconds) and one result per id", body = MembersResponse), (status = 400, description = "malformed or invalid body", body = ApiError), (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 413, description = "too many ids", body = ApiError)),
    security(("api_key" = [])))]
async fn score_members(
    req: HttpRequest,
    state: Data,
    body: web::Json<MembersRequest>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    check_ids(&state, body.member_ids.len())?;
    let models = tenant.snapshot()?;
    let results: Vec<MemberResult> = body
        .member_ids
        .iter()
        .map(|id| match tenant.score_member(&models, id) {
            Ok(v) => {
                state.metrics.decision(v.decision);
                MemberResult {
                    member_id: id.clone(),
                    verdict: Some(v),
                    error: None,
                }
            }
            Err(e) => MemberResult {
                member_id: id.clone(),
                verdict: None,
                error: Some(e),
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(MembersResponse {
        model_version: models.member.version.clone(),
        as_of: models.as_of,
        members: results,
    }))
}

fn check_ids(state: &AppState, n: usize) -> Result<(), ApiError> {
    if n > state.max_ids {
        return Err(ApiError::new(
            413,
            "too_many_ids",
            format!("{n} ids; at most {} per request", state.max_ids),
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/audiences/filter", tag = "audiences",
    request_body(content(
        (AudienceRequest = "application/json"),
        (String = "application/x-ndjson"),
        (Vec<u8> = "application/vnd.apache.parquet")),
        description = "JSON: ids and policy; NDJSON: one member id per line (a JSON string, {\"member_id\": …} or bare), policy in the query; Parquet: a file with a member_id column, policy in the query"),
    params(AudienceQuery),
    responses((status = 200, description = "kept ids, dropped ids with their main reason, summary", body = tenant::Audience), (status = 400, description = "malformed or invalid body", body = ApiError), (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 413, description = "too many ids or body too large", body = ApiError),
        (status = 415, description = "unsupported content type", body = ApiError)),
    security(("api_key" = [])))]
async fn filter_audience(
    req: HttpRequest,
    state: Data,
    query: web::Query<AudienceQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    let body = match body.to_bytes_limited(state.max_body_bytes).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Err(ApiError::bad_request("bad_body", e.to_string())),
        Err(_) => {
            return Err(ApiError::new(
                413,
                "body_too_large",
                format!("body is over the {}-byte limit", state.max_body_bytes),
            ))
        }
    };
    let content_type = req.content_type().to_ascii_lowercase();
    let query = query.into_inner();
    let (ids, policy) = web::block(move || audience::parse(&content_type, body, query))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    check_ids(&state, ids.len())?;
    let audience = web::block(move || tenant.filter_audience(&ids, &policy))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(audience))
}

fn model_info(t: &Tenant) -> Result<serde_json::Value, ApiError> {
    let m = t.snapshot()?;
    let one = |a: &crate::model::artefact::Artefact, path: &std::path::Path| {
        serde_json::json!({
            "version": a.version,
            "path": path,
            "target": a.target,
            "moment": a.moment,
            "thresholds": a.thresholds,
            "features": a.features.len(),
            "data_fingerprint": a.data.fingerprint,
        })
    };
    Ok(serde_json::json!({
        "tenant": t.name,
        "member": one(&m.member, &m.member_path),
        "signup": one(&m.signup, &m.signup_path),
        "scores_as_of": m.as_of,
    }))
}

#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses((status = 200, description = "the tenant's member and sign-up models: version, path, target, moment, thresholds"),
        (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn get_models(req: HttpRequest, state: Data) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    Ok(HttpResponse::Ok().json(model_info(tenant)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReloadRequest {
    tenant: String,
    /// New paths; the current ones are re-read where absent.
    #[schema(value_type = Option<String>)]
    model: Option<PathBuf>,
    #[schema(value_type = Option<String>)]
    signup_model: Option<PathBuf>,
}

/// Loads and checks the new models off the request threads, then swaps them in one step; a
/// refused model leaves the old ones serving.
#[utoipa::path(post, path = "/v1/models/reload", tag = "models", request_body = ReloadRequest,
    responses((status = 200, description = "the models now serving"), (status = 400, description = "the new model was refused; the old one keeps serving", body = ApiError),
        (status = 401, description = "missing or wrong admin key", body = ApiError), (status = 404, description = "unknown tenant", body = ApiError)),
    security(("admin_key" = [])))]
async fn reload_models(
    req: HttpRequest,
    state: Data,
    body: web::Json<ReloadRequest>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?.clone();
    let body = body.into_inner();
    let t = tenant.clone();
    web::block(move || -> Result<(), ApiError> {
        let old = t.snapshot()?;
        let member = body.model.unwrap_or_else(|| old.member_path.clone());
        let signup = body.signup_model.unwrap_or_else(|| old.signup_path.clone());
        t.rebuild(|old| Models::load(old.history.clone(), &member, &signup))
            .map(|_| ())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(model_info(&tenant)?))
}

#[utoipa::path(get, path = "/v1/lists/{list}/{key}", tag = "lists",
    params(("list" = tenant::ListKind, Path, description = "allow or deny"), ("key" = tenant::ListKey, Path, description = "what the entries are keyed by")),
    responses((status = 200, description = "the entries"), (status = 400, description = "malformed or invalid body", body = ApiError), (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn get_list(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    let (kind, key) = (ListKind::parse(&path.0)?, ListKey::parse(&path.1)?);
    let lists = tenant
        .lists
        .read()
        .map_err(|_| ApiError::internal("lists unavailable"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "list": kind, "key": key, "values": lists.get(kind, key)
    })))
}

#[utoipa::path(put, path = "/v1/lists/{list}/{key}/{value}", tag = "lists",
    params(("list" = tenant::ListKind, Path), ("key" = tenant::ListKey, Path), ("value" = String, Path, description = "member id, device id, phone hash or IP range")),
    responses((status = 200, description = "whether the list changed"), (status = 400, description = "malformed or invalid body", body = ApiError), (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn change_list(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    let (kind, key) = (ListKind::parse(&path.0)?, ListKey::parse(&path.1)?);
    let value = &path.2;
    let present = req.method() != actix_web::http::Method::DELETE;
    let changed = tenant.change_list(kind, key, value, present)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "list": kind, "key": key, "value": value, "changed": changed
    })))
}

#[utoipa::path(delete, path = "/v1/lists/{list}/{key}/{value}", tag = "lists",
    params(("list" = tenant::ListKind, Path), ("key" = tenant::ListKey, Path), ("value" = String, Path)),
    responses((status = 200, description = "whether the list changed"), (status = 400, description = "bad list or key", body = ApiError), (status = 401, description = "missing or unknown API key", body = ApiError)),
    security(("api_key" = [])))]
async fn delete_list(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    change_list(req, state, path).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EventsRequest {
    events: Vec<events::Event>,
}

/// Acknowledged only once durable; idempotent by event id.
#[utoipa::path(post, path = "/v1/events", tag = "events", request_body = EventsRequest,
    responses((status = 200, description = "acknowledged: durable; duplicates by event id are not stored again", body = events::Appended), (status = 400, description = "malformed or invalid body", body = ApiError), (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 409, description = "the scorer runs without a state folder", body = ApiError),
        (status = 503, description = "the event store is unavailable; nothing was acknowledged", body = ApiError)),
    security(("api_key" = [])))]
async fn post_events(
    req: HttpRequest,
    state: Data,
    body: web::Json<EventsRequest>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    check_ids(&state, body.events.len())?;
    let body = body.into_inner();
    let appended = web::block(move || tenant.ingest(&body.events))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(appended))
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, description = "the event is stored"), (status = 404, description = "not stored", body = ApiError)),
    security(("api_key" = [])))]
async fn get_event(
    req: HttpRequest,
    state: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    if tenant.has_event(&path)? {
        Ok(HttpResponse::Ok().json(serde_json::json!({"event_id": *path, "stored": true})))
    } else {
        Err(ApiError::not_found(
            "unknown_event",
            format!("event '{}' is not stored", *path),
        ))
    }
}

/// Folds the events acknowledged since the snapshot into the member scores now (admin).
#[utoipa::path(post, path = "/v1/state/refresh", tag = "events", request_body = TenantRequest,
    responses((status = 200, description = "events folded into the member scores", body = tenant::Refreshed),
        (status = 401, description = "missing or wrong admin key", body = ApiError), (status = 404, description = "unknown tenant", body = ApiError)),
    security(("admin_key" = [])))]
async fn refresh_state(
    req: HttpRequest,
    state: Data,
    body: web::Json<TenantRequest>,
) -> Result<HttpResponse, ApiError> {
    state.admin(&req)?;
    let tenant = state.named(&body.tenant)?.clone();
    let done = web::block(move || tenant.refresh())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(done))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TenantRequest {
    tenant: String,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process is up")))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "serving"), (status = 503, description = "shutting down", body = ApiError)))]
async fn readyz(state: Data) -> HttpResponse {
    if state.ready.load(std::sync::atomic::Ordering::Relaxed) {
        HttpResponse::Ok()
            .json(serde_json::json!({"status": "ready", "tenants": state.tenants.len()}))
    } else {
        ApiError::new(503, "not_ready", "shutting down").into_response()
    }
}

trait IntoResponse {
    fn into_response(self) -> HttpResponse;
}

impl IntoResponse for ApiError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text: requests and latency by route and status, decisions, model versions", content_type = "text/plain")))]
async fn prometheus(state: Data) -> HttpResponse {
    let versions: Vec<(String, String)> = state
        .tenants
        .iter()
        .filter_map(|t| {
            t.snapshot()
                .ok()
                .map(|m| (t.name.clone(), m.member.version.clone()))
        })
        .collect();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&versions))
}

/// The API's OpenAPI 3.1 description, generated from the handlers and their types.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "woolguard scorer", description = "Scores sign-up candidates and members for the wool party, filters campaign audiences, takes events and swaps models."),
    paths(score_candidate, score_members, filter_audience, post_events, get_event, refresh_state,
        get_models, reload_models, get_list, change_list, delete_list, healthz, readyz, prometheus, openapi),
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
    use utoipa::OpenApi;
    HttpResponse::Ok().json(ApiDoc::openapi())
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "no_route",
        format!("{} {} does not exist", req.method(), req.path()),
    ))
}

/// The routes, the JSON limits and the error mapping: the whole app, for the server and for
/// in-process tests alike.
pub fn configure(state: Data, max_body_bytes: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let json = web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(|err, _req| json_error(err).into());
        let path = web::PathConfig::default()
            .error_handler(|err, _req| ApiError::bad_request("bad_path", err.to_string()).into());
        cfg.app_data(state)
            .app_data(json)
            .app_data(path)
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(prometheus))
            .route("/v1/candidates/score", web::post().to(score_candidate))
            .route("/v1/members/score", web::post().to(score_members))
            .route("/v1/events", web::post().to(post_events))
            .route("/v1/events/{id}", web::get().to(get_event))
            .route("/v1/audiences/filter", web::post().to(filter_audience))
            .route("/v1/models", web::get().to(get_models))
            .route("/v1/models/reload", web::post().to(reload_models))
            .route("/v1/state/refresh", web::post().to(refresh_state))
            .route("/v1/lists/{list}/{key}", web::get().to(get_list))
            .route("/v1/lists/{list}/{key}/{value}", web::put().to(change_list))
            .route(
                "/v1/lists/{list}/{key}/{value}",
                web::delete().to(delete_list),
            )
            .route("/v1/openapi.json", web::get().to(openapi))
            .default_service(web::to(not_found));
    }
}

/// Runs the server until SIGINT / SIGTERM; in-flight requests finish first. Prints the bound
/// address (useful with port 0) as its first line on stdout.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let started = Instant::now();
    let state = web::Data::new(AppState::load(&config)?);
    let max_body = config.max_body_bytes;
    let app_state = state.clone();
    let server = actix_web::HttpServer::new(move || {
        let metrics_state = app_state.clone();
        actix_web::App::new()
            .wrap_fn(move |req, srv| {
                use actix_web::dev::Service;
                let m = metrics_state.clone();
                let route = req
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_string());
                let t = Instant::now();
                let fut = srv.call(req);
                async move {
                    let res = fut.await;
                    let status = res.as_ref().map_or(500, |r| r.status().as_u16());
                    m.metrics.observe(&route, status, t.elapsed().as_secs_f64());
                    res
                }
            })
            .configure(configure(app_state.clone(), max_body))
    })
    .shutdown_timeout(30)
    .bind(&config.bind)?;
    for addr in server.addrs() {
        println!("listening on {addr}");
    }
    if config.state.is_some() && config.refresh_secs > 0 {
        let refresher = state.clone();
        let every = std::time::Duration::from_secs(config.refresh_secs);
        actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(every).await;
                for t in refresher.tenants.iter().cloned() {
                    if !t.has_new_events().unwrap_or(false) {
                        continue;
                    }
                    let name = t.name.clone();
                    match web::block(move || t.refresh()).await {
                        Ok(Ok(r)) => eprintln!(
                            "woolguard serve: tenant {name}: {} event(s) folded in {:.2}s, {} waiting",
                            r.folded.applied, r.seconds, r.folded.waiting
                        ),
                        Ok(Err(e)) => eprintln!("woolguard serve: tenant {name}: refresh failed: {}", e.message),
                        Err(e) => eprintln!("woolguard serve: tenant {name}: refresh failed: {e}"),
                    }
                }
            }
        });
    }
    eprintln!(
        "woolguard serve: {} tenant(s) loaded in {:.1}s; config {}",
        state.tenants.len(),
        started.elapsed().as_secs_f64(),
        serde_json::to_string(&config).unwrap_or_default()
    );
    server.run().await?;
    state
        .ready
        .store(false, std::sync::atomic::Ordering::Relaxed);
    eprintln!("woolguard serve: stopped");
    Ok(())
}

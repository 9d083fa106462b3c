//! The scorer: an actix-web service scoring sign-up candidates and members, filtering campaign
//! audiences, and swapping models without downtime (DESIGN.md §5–§7).
//!
//! Handlers are thin: they authenticate, parse, call [`crate::state::Tenant`] and serialise. Every
//! error goes through [`error::ApiError`]. A tenant is chosen by its API key, so one brand's key
//! can never reach another brand's members, lists or models.

pub mod admin_api;
pub mod audience;
pub mod error;
mod gangs_api;
pub mod json;
pub mod metrics;
pub mod models_api;
pub mod ops_api;
mod rescore;
pub mod rules_api;
pub mod scoring_api;
pub mod start;
mod tail;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::model::slot::SmokeBand;
use crate::state::tenant::Tenant;
use error::{ApiError, Code};
use metrics::Metrics;
pub use start::StartError;

pub use ops_api::ApiDoc;

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
    /// Rules file (TOML, see `training/rules.toml`) the tenant starts with; rules stored by
    /// `PUT /v1/rules` win over it.
    #[serde(default)]
    pub rules: Option<PathBuf>,
    /// A second model beside the live member or sign-up model: shadow, then a rollout in steps.
    #[serde(default)]
    pub challenger: Option<crate::state::tenant::challenger::ChallengerConfig>,
    /// A shared store for this tenant's events, lists and rules (`postgres://…`), written and
    /// tailed by every replica serving it; without it, the service's `store`, else the embedded
    /// store in the state folder.
    #[serde(default)]
    pub store: Option<String>,
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
    /// Folder of the tenants' durable state (see [`crate::state::dir::StateDir`]); without it `POST /v1/events`
    /// is refused.
    pub state: Option<PathBuf>,
    /// The shared store of every tenant without one of its own (`postgres://…`); kept out of the
    /// logged config, since it may hold a password.
    #[serde(skip_serializing)]
    pub store: Option<String>,
    /// How often (milliseconds) a replica looks for events other replicas stored in a shared
    /// store, besides the store's notifications.
    pub tail_poll_ms: u64,
    /// Seconds between full refreshes (new events folded into the history, every member
    /// re-aged and rescored, tiers and segments recomputed, the live overlay emptied); default
    /// 3600; 0: only on `POST /v1/state/refresh`. An acknowledged event reaches the scores of
    /// the members it touches at once, without waiting for one.
    pub refresh_secs: u64,
    /// Offered instead of a plain no on review decisions, e.g. "welcome benefit after the first
    /// order".
    pub review_remedy: Option<String>,
    /// The band a new model's decisions on the tenant's members must stay inside for a swap
    /// (`POST /v1/models/reload` without `force`).
    pub smoke: SmokeBand,
    /// A feature (or the score) of live sign-up traffic is flagged as moved above this
    /// population stability index (`GET /v1/drift`, `/metrics`).
    pub drift_threshold: f64,
    /// Requests slower than this (milliseconds) are logged.
    pub slow_request_ms: u64,
    /// The earliest time an event or request may carry (a date or RFC 3339).
    pub earliest_time: String,
    /// How far past now an event or request time may lie, in hours (rounded up to the end of
    /// that UTC day).
    pub future_hours: u32,
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
            store: None,
            tail_poll_ms: 1000,
            refresh_secs: 3_600,
            review_remedy: Some("grant the welcome benefit after a first order".to_string()),
            smoke: SmokeBand::default(),
            drift_threshold: 0.25,
            slow_request_ms: 1000,
            earliest_time: "2000-01-01".to_string(),
            future_hours: 24,
            tenants: Vec::new(),
        }
    }
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
    pub smoke: SmokeBand,
    pub drift_threshold: f64,
}

impl AppState {
    pub fn new(tenants: Vec<Arc<Tenant>>, keys: HashMap<String, usize>, c: &ServeConfig) -> Self {
        AppState {
            tenants,
            keys,
            admin_key: c.admin_key.clone(),
            max_ids: c.max_ids,
            max_body_bytes: c.max_body_bytes,
            metrics: Metrics::default(),
            ready: std::sync::atomic::AtomicBool::new(true),
            smoke: c.smoke,
            drift_threshold: c.drift_threshold,
        }
    }

    /// The tenant of the request's API key: 401 without one or with an unknown one.
    pub fn tenant(&self, req: &HttpRequest) -> Result<&Arc<Tenant>, ApiError> {
        let key = api_key(req, "x-api-key")
            .ok_or_else(|| ApiError::unauthorized("send your API key in the x-api-key header"))?;
        self.keys
            .get(key)
            .and_then(|&i| self.tenants.get(i))
            .ok_or_else(|| ApiError::unauthorized("unknown API key"))
    }

    /// The tenant name of a request, for metrics and logs: `-` without a known key.
    pub fn tenant_label(&self, req: &HttpRequest) -> String {
        self.tenant(req)
            .map_or_else(|_| "-".to_string(), |t| t.name.clone())
    }

    /// A tenant by name (admin calls).
    pub fn named(&self, name: &str) -> Result<&Arc<Tenant>, ApiError> {
        self.tenants
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ApiError::new(Code::UnknownTenant, format!("no tenant '{name}'")))
    }

    pub fn admin(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match (&self.admin_key, api_key(req, "x-admin-key")) {
            (Some(k), Some(given)) if k == given => Ok(()),
            (None, _) => Err(ApiError::new(
                Code::AdminDisabled,
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

/// Runs CPU-heavy or blocking work off the async workers.
async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(Into::into)
}

/// A path's resource: a method it does not take is 405 `method_not_allowed` with `Allow`.
fn resource(path: &str, allowed: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        ops_api::method_not_allowed(&req, allowed)
    }))
}

/// The routes, the body limit and the error mapping: the whole app, for the server and for
/// in-process tests alike.
pub fn configure(state: Data, max_body_bytes: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let path = web::PathConfig::default().error_handler(|err, _req| {
            ApiError::new(Code::InvalidField, format!("path: {err}")).into()
        });
        let query = web::QueryConfig::default().error_handler(|err, _req| {
            ApiError::new(Code::InvalidField, format!("query: {err}")).into()
        });
        cfg.app_data(state)
            .app_data(json::BodyLimit(max_body_bytes))
            .app_data(path)
            .app_data(query)
            .configure(ops_api::config_ops_api)
            .configure(scoring_api::config_scoring_api)
            .configure(admin_api::config_admin_api)
            .configure(rules_api::config_rules_api)
            .configure(gangs_api::config_gangs_api)
            .configure(models_api::config_models_api)
            .default_service(web::to(ops_api::not_found));
    }
}

/// Everything a server (or an in-process test) needs before its first request: the live time
/// window set, every tenant loaded and checked.
pub fn prepare(config: &ServeConfig) -> Result<Data, StartError> {
    let earliest = crate::data::plausible::parse_time(&config.earliest_time).ok_or_else(|| {
        StartError::EarliestTime {
            given: config.earliest_time.clone(),
            forms: crate::data::plausible::TIME_FORMS,
        }
    })?;
    crate::data::plausible::configure_live(earliest, i64::from(config.future_hours) * 3600)?;
    Ok(web::Data::new(AppState::load(config)?))
}

/// The whole app — the routes, the body limit, the error mapping and the middleware that
/// counts every request by tenant, route and status and logs the slow ones — for the server and
/// for in-process tests alike.
pub fn create_app(
    state: Data,
    config: &ServeConfig,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics_state = state.clone();
    let slow_ms = config.slow_request_ms;
    actix_web::App::new()
        .wrap_fn(move |req, srv| {
            use actix_web::dev::Service;
            let m = metrics_state.clone();
            let route = req
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_string());
            let tenant = m.tenant_label(req.request());
            let method = req.method().to_string();
            let t = Instant::now();
            let fut = srv.call(req);
            async move {
                let res = fut.await;
                let status = res.as_ref().map_or(500, |r| r.status().as_u16());
                let seconds = t.elapsed().as_secs_f64();
                m.metrics.observe(&tenant, &route, status, seconds);
                if seconds * 1000.0 >= slow_ms as f64 {
                    tracing::warn!(tenant = %tenant, method = %method, route = %route, status, seconds, "slow request");
                }
                res
            }
        })
        .configure(configure(state, config.max_body_bytes))
}

/// Runs the server until SIGINT / SIGTERM; in-flight requests finish first. Prints the bound
/// address (useful with port 0) as its first line on stdout.
pub async fn run(config: ServeConfig) -> Result<(), StartError> {
    let started = Instant::now();
    let state = prepare(&config)?;
    let app_state = state.clone();
    let app_config = config.clone();
    let server = actix_web::HttpServer::new(move || create_app(app_state.clone(), &app_config))
        .shutdown_timeout(30)
        .bind(&config.bind)
        .map_err(|source| StartError::Bind {
            addr: config.bind.clone(),
            source,
        })?;
    for addr in server.addrs() {
        println!("listening on {addr}");
        tracing::info!(%addr, "listening");
    }
    tail::start(&state, &config)?;
    rescore::start(&state.tenants)?;
    if state.tenants.iter().any(|t| t.has_store()) && config.refresh_secs > 0 {
        let refresher = state.clone();
        let every = std::time::Duration::from_secs(config.refresh_secs);
        actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(every).await;
                for t in &refresher.tenants {
                    if !t.has_new_events().unwrap_or(false) {
                        continue;
                    }
                    let t = t.clone();
                    // The refresh logs its own outcome, with the tenant.
                    let _ = blocking(move || t.refresh()).await;
                }
            }
        });
    }
    let tenants: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
    tracing::info!(
        tenants = ?tenants,
        seconds = started.elapsed().as_secs_f64(),
        config = %serde_json::to_string(&config).unwrap_or_default(),
        "tenants loaded; the effective config (keys left out)"
    );
    server.run().await.map_err(StartError::Serve)?;
    state
        .ready
        .store(false, std::sync::atomic::Ordering::Relaxed);
    tracing::info!("stopped");
    Ok(())
}

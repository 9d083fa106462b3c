//! The scorer: an actix-web service scoring sign-up candidates and members, filtering campaign
//! audiences, and swapping models without downtime (DESIGN.md §5–§7).
//!
//! Handlers are thin: they authenticate, parse, call [`tenant::Tenant`] and serialise. Every
//! error goes through [`error::ApiError`]. A tenant is chosen by its API key, so one brand's key
//! can never reach another brand's members, lists or models.

pub mod admin_api;
pub mod audience;
pub mod error;
pub mod events;
pub mod json;
pub mod metrics;
pub mod ops_api;
pub mod rules_api;
pub mod scoring_api;
pub mod store;
pub mod tenant;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::model::slot::SmokeBand;
use error::ApiError;
use metrics::Metrics;
use tenant::{Models, Tenant};

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
    /// The band a new model's decisions on the tenant's members must stay inside for a swap
    /// (`POST /v1/models/reload` without `force`).
    pub smoke: SmokeBand,
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
            refresh_secs: 60,
            review_remedy: Some("grant the welcome benefit after a first order".to_string()),
            smoke: SmokeBand::default(),
            slow_request_ms: 1000,
            earliest_time: "2000-01-01".to_string(),
            future_hours: 24,
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
    store::RedbStore::open(&dir.events).map_err(|e| anyhow::anyhow!("{}", e.message))?;
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
    pub smoke: SmokeBand,
}

/// The rules a tenant starts with: those its store holds (set by `PUT /v1/rules`), else its
/// rules file, else none.
fn tenant_rules(
    t: &TenantConfig,
    store: Option<&store::RedbStore>,
) -> anyhow::Result<Arc<crate::scoring::RuleSet>> {
    use crate::scoring::rules::{RuleSet, RulesFile};
    use store::EventStore;
    let tiers = crate::members::tier::TierRules::default().names;
    let stored = match store {
        Some(s) => s
            .rules()
            .map_err(|e| anyhow::anyhow!("tenant {}: {}", t.name, e.message))?,
        None => None,
    };
    let set = match (stored, &t.rules) {
        (Some(json), _) => {
            let file: RulesFile = serde_json::from_str(&json)
                .map_err(|e| anyhow::anyhow!("tenant {}: stored rules: {e}", t.name))?;
            RuleSet::check(file, &tiers)
                .map_err(|e| anyhow::anyhow!("tenant {}: stored rules: {e}", t.name))?
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("tenant {}: rules {}: {e}", t.name, path.display()))?;
            RuleSet::from_toml(&text, &tiers)
                .map_err(|e| anyhow::anyhow!("tenant {}: rules {}: {e}", t.name, path.display()))?
        }
        (None, None) => RuleSet::default(),
    };
    Ok(Arc::new(set))
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
            let store = match &dir {
                Some(dir) => Some(store::RedbStore::open(&dir.events).map_err(fail)?),
                None => None,
            };
            let rules = tenant_rules(t, store.as_ref())?;
            let models =
                Models::load(Arc::new(history), &t.model, &t.signup_model, rules).map_err(fail)?;
            let mut tenant = Tenant::new(&t.name, models, config.review_remedy.clone());
            if let Some(store) = store {
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
            smoke: c.smoke,
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
            .ok_or_else(|| ApiError::not_found("unknown_tenant", format!("no tenant '{name}'")))
    }

    pub fn admin(&self, req: &HttpRequest) -> Result<(), ApiError> {
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

/// Runs CPU-heavy or blocking work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
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
            ApiError::bad_request("invalid_field", format!("path: {err}")).into()
        });
        let query = web::QueryConfig::default().error_handler(|err, _req| {
            ApiError::bad_request("invalid_field", format!("query: {err}")).into()
        });
        cfg.app_data(state)
            .app_data(json::BodyLimit(max_body_bytes))
            .app_data(path)
            .app_data(query)
            .configure(ops_api::config_ops_api)
            .configure(scoring_api::config_scoring_api)
            .configure(admin_api::config_admin_api)
            .configure(rules_api::config_rules_api)
            .default_service(web::to(ops_api::not_found));
    }
}

/// Runs the server until SIGINT / SIGTERM; in-flight requests finish first. Prints the bound
/// address (useful with port 0) as its first line on stdout.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let started = Instant::now();
    let earliest = crate::data::plausible::parse_time(&config.earliest_time).ok_or_else(|| {
        anyhow::anyhow!(
            "earliest_time '{}' is not a time ({})",
            config.earliest_time,
            crate::data::plausible::TIME_FORMS
        )
    })?;
    crate::data::plausible::configure_live(earliest, i64::from(config.future_hours) * 3600)?;
    let state = web::Data::new(AppState::load(&config)?);
    let max_body = config.max_body_bytes;
    let app_state = state.clone();
    let slow_ms = config.slow_request_ms;
    let server = actix_web::HttpServer::new(move || {
        let metrics_state = app_state.clone();
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
            .configure(configure(app_state.clone(), max_body))
    })
    .shutdown_timeout(30)
    .bind(&config.bind)?;
    for addr in server.addrs() {
        println!("listening on {addr}");
        tracing::info!(%addr, "listening");
    }
    if config.state.is_some() && config.refresh_secs > 0 {
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
    server.run().await?;
    state
        .ready
        .store(false, std::sync::atomic::Ordering::Relaxed);
    tracing::info!("stopped");
    Ok(())
}

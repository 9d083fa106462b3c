//! Start-up: every tenant's history, models, rules and stored state loaded and checked before
//! the first request; a failure names the tenant and what failed, with its cause.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{AppState, ServeConfig, TenantConfig};
use crate::scoring::rules::{RuleError, RuleSet};
use crate::state::dir::StateDir;
use crate::state::image;
use crate::state::store::{EventStore, PgStore, RedbStore, StoreError};
use crate::state::tenant::Tenant;
use crate::state::StateError;

/// The scorer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("tenant {0}: no history: give its data folder, or a state folder made by `woolguard state init`")]
    NoHistory(String),
    #[error("tenant {tenant}: {source}")]
    Data {
        tenant: String,
        source: crate::data::DataError,
    },
    #[error("tenant {tenant}: {source}")]
    Store { tenant: String, source: StoreError },
    #[error("tenant {tenant}: store {given:?} is not a PostgreSQL address (postgres://user@host:port/db)")]
    StoreAddress { tenant: String, given: String },
    #[error("tenant {tenant}: snapshot: {source}")]
    Snapshot {
        tenant: String,
        source: Box<crate::state::snapshots::SnapshotError>,
    },
    #[error("tenant {tenant}: {source}")]
    State { tenant: String, source: StateError },
    #[error("tenant {tenant}: rules {}: {source}", .path.display())]
    ReadRules {
        tenant: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tenant {tenant}: rules {}: {source}", .path.display())]
    Rules {
        tenant: String,
        path: PathBuf,
        source: RuleError,
    },
    #[error("API key given to two tenants (second: {0})")]
    SharedKey(String),
    #[error("earliest_time '{given}' is not a time ({forms})")]
    EarliestTime { given: String, forms: &'static str },
    #[error(transparent)]
    Window(#[from] crate::data::plausible::Implausible),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// The rules a tenant starts with: those its store holds (set by `PUT /v1/rules`), else its
/// rules file, else none.
fn tenant_rules(
    t: &TenantConfig,
    store: Option<&dyn EventStore>,
) -> Result<Arc<RuleSet>, StartError> {
    let tiers = crate::members::tier::TierRules::default().names;
    let tenant = || t.name.clone();
    let stored = match store {
        Some(s) => s.stored_rules().map_err(|source| StartError::Store {
            tenant: tenant(),
            source,
        })?,
        None => None,
    };
    let set = match (stored, &t.rules) {
        (Some(stored), _) => stored,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|source| StartError::ReadRules {
                tenant: tenant(),
                path: path.clone(),
                source,
            })?;
            RuleSet::from_toml(&text, &tiers).map_err(|source| StartError::Rules {
                tenant: tenant(),
                path: path.clone(),
                source,
            })?
        }
        (None, None) => RuleSet::default(),
    };
    Ok(Arc::new(set))
}

impl AppState {
    /// Loads every tenant's history and models; any failure names the tenant and file.
    pub fn load(config: &ServeConfig) -> Result<Self, StartError> {
        let mut tenants = Vec::new();
        let mut keys = HashMap::new();
        for (i, t) in config.tenants.iter().enumerate() {
            let fail = |source: StateError| StartError::State {
                tenant: t.name.clone(),
                source,
            };
            let dir = config.state.as_deref().map(|s| StateDir::of(s, &t.name));
            let data = match (&t.data, &dir) {
                (Some(d), _) => d.clone(),
                (None, Some(dir)) if dir.history.exists() => dir.history.clone(),
                (None, _) => return Err(StartError::NoHistory(t.name.clone())),
            };
            let store_err = |source| StartError::Store {
                tenant: t.name.clone(),
                source,
            };
            let store: Option<Box<dyn EventStore>> = match (super::tail::store_of(config, i), &dir)
            {
                (Some(url), _) => {
                    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                        return Err(StartError::StoreAddress {
                            tenant: t.name.clone(),
                            given: url.to_string(),
                        });
                    }
                    Some(Box::new(PgStore::connect(url, &t.name).map_err(store_err)?))
                }
                (None, Some(dir)) => {
                    Some(Box::new(RedbStore::open(&dir.events).map_err(store_err)?))
                }
                (None, None) => None,
            };
            // With a snapshot at a log position, the tenant starts from it and folds the tail.
            let base = match &store {
                Some(s) => crate::state::snapshots::base(s.as_ref(), &data).map_err(|source| {
                    StartError::Snapshot {
                        tenant: t.name.clone(),
                        source: Box::new(source),
                    }
                })?,
                None => crate::state::snapshots::Base {
                    history: data,
                    position: 0,
                    waiting: Vec::new(),
                    snapshot: false,
                },
            };
            // Each phase with its time and the process's resident memory after it.
            let took = |what: &str, since: std::time::Instant| {
                let rss_mb = crate::state::replay::live::rss_bytes() / (1 << 20);
                tracing::info!(tenant = %t.name, seconds = since.elapsed().as_secs_f64(), rss_mb, "{what}");
            };
            let rules = tenant_rules(t, store.as_deref())?;
            // A snapshot folder, or the one `state init` wrote, keeps a start image.
            let own = base.snapshot || dir.as_ref().is_some_and(|d| d.history == base.history);
            let span = tracing::info_span!("start", tenant = %t.name).entered();
            let (models, online, _) = image::start(
                &base.history,
                (&t.model, &t.signup_model),
                rules,
                own,
                &took,
            )
            .map_err(|e| match e {
                image::StartFailed::Data(source) => StartError::Data {
                    tenant: t.name.clone(),
                    source,
                },
                image::StartFailed::State(source) => StartError::State {
                    tenant: t.name.clone(),
                    source,
                },
            })?;
            drop(span);
            let phase = std::time::Instant::now();
            let mut tenant =
                Tenant::starting(&t.name, models, online, config.review_remedy.clone());
            took("online sign-up state built", phase);
            if let Some(dir) = &dir {
                tenant = tenant.with_state_dir(dir);
            }
            let phase = std::time::Instant::now();
            if let Some(store) = store {
                // The log's tail after the snapshot reaches the member scores before the first
                // request as events reach them while serving: live, for the members it touches
                // (the next full refresh folds it into the snapshot).
                tenant = tenant
                    .with_store_at(store, base.position, base.waiting)
                    .map_err(fail)?;
                took("stored events applied", phase);
            }
            if let Some(c) = &t.challenger {
                tenant
                    .set_challenger(c.clone(), false, &config.smoke)
                    .map_err(fail)?;
            }
            tenants.push(Arc::new(tenant));
            for k in &t.api_keys {
                if keys.insert(k.clone(), i).is_some() {
                    return Err(StartError::SharedKey(t.name.clone()));
                }
            }
        }
        Ok(Self::new(tenants, keys, config))
    }
}

//! Where a tenant's durable state lives, and how it is bootstrapped from a history folder
//! (`woolguard state init`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::store::{RedbStore, StoreError};
use crate::data::DataError;

/// `woolguard state init` could not bootstrap the state.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already holds state for tenant '{tenant}'; pass --replace to start it over", .state.display())]
    Exists { state: PathBuf, tenant: String },
    #[error("removing {}: {source}", .path.display())]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where one tenant's durable state lives under the state folder: `<state>/<tenant>/history/`
/// (a contract folder: the snapshot `woolguard state init` writes) and
/// `<state>/<tenant>/events.redb` (every event acknowledged since), and `shadow.jsonl` (a
/// challenger's comparisons, when one is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    pub history: PathBuf,
    pub events: PathBuf,
    /// A challenger's comparisons with the live model (`woolguard compare --shadow-log`).
    pub shadow_log: PathBuf,
    /// Where a running scorer writes `POST /v1/state/export` folders.
    pub exports: PathBuf,
    /// Where a running scorer keeps the snapshot it rebuilt last (refresh, rules, models), read
    /// back in place so that its history is the file's pages, not the heap.
    pub serving_image: PathBuf,
}

impl StateDir {
    pub fn of(state: &Path, tenant: &str) -> Self {
        let dir = state.join(tenant);
        StateDir {
            history: dir.join("history"),
            events: dir.join("events.redb"),
            shadow_log: dir.join("shadow.jsonl"),
            exports: dir.join("exports"),
            serving_image: dir.join("serving.image"),
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
) -> Result<StateInit, InitError> {
    let dir = StateDir::of(state, tenant);
    if !replace && (dir.history.exists() || dir.events.exists()) {
        return Err(InitError::Exists {
            state: state.to_path_buf(),
            tenant: tenant.to_string(),
        });
    }
    let history = crate::data::load(data)?;
    if dir.events.exists() {
        std::fs::remove_file(&dir.events).map_err(|source| InitError::Remove {
            path: dir.events.clone(),
            source,
        })?;
    }
    let rows = crate::data::write::write_history(&history, &dir.history)?;
    RedbStore::open(&dir.events)?;
    Ok(StateInit {
        tenant: tenant.to_string(),
        history: dir.history,
        events: dir.events,
        rows,
        fingerprint: crate::model::report::fingerprint(&history).fingerprint,
    })
}

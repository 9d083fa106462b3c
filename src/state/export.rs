//! `woolguard state export`: a tenant's history with every acknowledged event folded in, as a
//! contract folder that `train`, `evaluate` and every other command read. Reviews posted as
//! `label` events become rows of the labels table, so the next training labels the reviewed
//! members by their reviews.
//!
//! The scorer holds its store's lock while it serves, so `state export` runs beside a stopped
//! scorer; a running scorer exports itself (`POST /v1/state/export`, into its state folder).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::dir::StateDir;
use super::events::{fold, Event, Folded};
use super::store::{replay_file, StoreError};
use crate::data::write::{write_history, RowCounts};
use crate::data::DataError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("tenant '{tenant}' has no state under {}: run `woolguard state init` first", .state.display())]
    NoState { state: PathBuf, tenant: String },
    #[error("{} already holds files; pass --replace to write over it", .0.display())]
    Exists(PathBuf),
    #[error("removing {}: {source}", .path.display())]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{}: {source}", .path.display())]
    Store { path: PathBuf, source: StoreError },
    #[error("{} is open in a running scorer: stop it (its events are all on disk), or export a copy of the state folder taken while it was stopped", .0.display())]
    InUse(PathBuf),
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Exported {
    pub tenant: String,
    #[schema(value_type = String)]
    pub out: PathBuf,
    /// Events in the store.
    pub events: usize,
    /// How the events went into the history (applied, already there, skipped, waiting).
    pub folded: Folded,
    /// Review outcomes (`label` events) among the stored events.
    pub reviews: usize,
    /// Benefit holds among them: the scorer's decisions, not history, so not written.
    pub holds: usize,
    /// Rows written per table (members, coupons, orders, points, labels).
    #[schema(value_type = Object)]
    pub rows: RowCounts,
    pub fingerprint: String,
}

/// Folds every event the tenant's store holds into its snapshot's history, in acknowledgement
/// order (the fold a running scorer does at each refresh), and writes the result to `out`.
/// Events of members who never signed up cannot be rows of the contract: they are counted as
/// `waiting`, not written. The store must not be open in a running scorer (it holds the
/// store's lock). `data` is the history the tenant's scorer starts from where its
/// configuration gives one; else the snapshot `woolguard state init` wrote.
pub fn export_state(
    state: &Path,
    tenant: &str,
    data: Option<&Path>,
    out: &Path,
    replace: bool,
) -> Result<Exported, ExportError> {
    let dir = StateDir::of(state, tenant);
    let history_dir = data.unwrap_or(&dir.history);
    if !history_dir.is_dir() || !dir.events.is_file() {
        return Err(ExportError::NoState {
            state: state.to_path_buf(),
            tenant: tenant.to_string(),
        });
    }
    let history = crate::data::load(history_dir)?;
    let events = replay_file(&dir.events).map_err(|source| match source {
        StoreError::Redb(redb::Error::DatabaseAlreadyOpen) => {
            ExportError::InUse(dir.events.clone())
        }
        source => ExportError::Store {
            path: dir.events.clone(),
            source,
        },
    })?;
    write_folded(tenant, history, &events, out, replace)
}

/// Folds `events` into `history` in their order and writes the result to `out` (refused where
/// `out` holds files, unless `replace`). The one export both `state export` and a running
/// scorer's `POST /v1/state/export` make.
pub fn write_folded(
    tenant: &str,
    mut history: crate::data::History,
    events: &[Event],
    out: &Path,
    replace: bool,
) -> Result<Exported, ExportError> {
    let holds_files = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if holds_files {
        if !replace {
            return Err(ExportError::Exists(out.to_path_buf()));
        }
        std::fs::remove_dir_all(out).map_err(|source| ExportError::Remove {
            path: out.to_path_buf(),
            source,
        })?;
    }
    let (folded, _waiting) = fold(&mut history, events);
    let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    let rows = write_history(&history, out)?;
    Ok(Exported {
        tenant: tenant.to_string(),
        out: out.to_path_buf(),
        events: events.len(),
        folded,
        reviews: count(|e| matches!(e, Event::Label { .. })),
        holds: count(|e| matches!(e, Event::Hold { .. })),
        rows,
        fingerprint: crate::model::report::fingerprint(&history).fingerprint,
    })
}

//! Snapshots at a log position (`woolguard state snapshot`): the tenant's history with every
//! stored event up to a position folded in, written as a contract folder, so that a new or
//! restarted replica loads it and folds only the log's tail. The store keeps the list of
//! snapshots; the oldest ones are removed past `keep`, and the log behind the oldest kept can be
//! pruned (the event ids stay, so a retry is still a duplicate).
//!
//! Events of members with no sign-up yet cannot be rows of a contract folder: a snapshot keeps
//! them beside the history (`waiting.jsonl`), and a scorer that loads it queues them again.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::events::{fold, Event, Folded};
use super::export::ExportError;
use super::store::{EventStore, SnapshotPointer, StoreError};
use crate::data::write::{write_history, RowCounts};

/// The file in a snapshot folder holding the events still waiting for their member's sign-up.
pub const WAITING: &str = "waiting.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Write(#[from] ExportError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}, line {line}: {source}", .path.display())]
    Waiting {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
}

/// What `state snapshot` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Taken {
    pub tenant: String,
    /// The new snapshot (the latest one when the log had nothing new).
    pub snapshot: SnapshotPointer,
    /// Events folded in now (after the previous snapshot's position).
    pub events: usize,
    pub folded: Folded,
    /// Events kept beside it, waiting for their member's sign-up.
    pub waiting: usize,
    pub rows: RowCounts,
    pub fingerprint: String,
    /// Snapshots kept, oldest first.
    pub kept: Vec<SnapshotPointer>,
    /// Snapshot folders removed (past `keep`).
    pub removed: Vec<PathBuf>,
    /// Event bodies pruned from the log (behind the oldest snapshot kept).
    pub pruned: usize,
    /// The snapshot's start image, where one was written (`state snapshot --model …`).
    pub start_image: Option<PathBuf>,
    pub seconds: f64,
}

/// Where a tenant starts: the history to load, the log position to fold after, and events to
/// queue again.
pub struct Base {
    pub history: PathBuf,
    pub position: u64,
    pub waiting: Vec<Event>,
    /// The history is a snapshot's folder (woolguard's own, where a start image is kept).
    pub snapshot: bool,
}

/// The tenant's base: its latest snapshot, else `history` at position 0.
pub fn base(store: &dyn EventStore, history: &Path) -> Result<Base, SnapshotError> {
    base_of(store.snapshots()?.last(), history)
}

/// The base `latest` (the latest snapshot kept, if any) gives.
fn base_of(latest: Option<&SnapshotPointer>, history: &Path) -> Result<Base, SnapshotError> {
    match latest {
        None => Ok(Base {
            history: history.to_path_buf(),
            position: 0,
            waiting: Vec::new(),
            snapshot: false,
        }),
        Some(p) => Ok(Base {
            waiting: read_waiting(&p.path.join(WAITING))?,
            history: p.path.clone(),
            position: p.position,
            snapshot: true,
        }),
    }
}

fn read_waiting(path: &Path) -> Result<Vec<Event>, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line).map_err(|source| SnapshotError::Waiting {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })?,
        );
    }
    Ok(out)
}

/// Folds the log after the latest snapshot (or after position 0 into `history`) into a new
/// snapshot under `root/<position>`, keeps the newest `keep` snapshots (removing older folders)
/// and, with `prune`, drops the log's event bodies behind the oldest one kept.
pub fn take(
    store: &dyn EventStore,
    tenant: &str,
    history: &Path,
    root: &Path,
    keep: usize,
    prune: bool,
) -> Result<Taken, SnapshotError> {
    let started = std::time::Instant::now();
    let mut kept = store.snapshots()?;
    let from = base_of(kept.last(), history)?;
    let mut h = crate::data::load(&from.history)?;
    let logged = store.read_all_after(from.position)?;
    let position = logged.last().map_or(from.position, |l| l.seq);
    let mut events = from.waiting;
    events.extend(logged.iter().map(|l| l.event.clone()));
    let (folded, waiting) = fold(&mut h, &events);
    let path = root.join(format!("{position:012}"));
    let is_new = kept.last().is_none_or(|p| p.position != position);
    let rows = if is_new {
        let holds_files = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_some());
        if holds_files {
            std::fs::remove_dir_all(&path).map_err(|source| SnapshotError::Io {
                path: path.clone(),
                source,
            })?;
        }
        let rows = write_history(&h, &path).map_err(ExportError::from)?;
        write_waiting(&path.join(WAITING), &waiting)?;
        kept.push(SnapshotPointer {
            position,
            path: path.clone(),
            taken_at: chrono::Utc::now().timestamp(),
        });
        rows
    } else {
        RowCounts {
            members: h.members.len() as u64,
            coupons: h.coupons.len() as u64,
            orders: h.orders.len() as u64,
            points: h.points.len() as u64,
            labels: h.labels.len() as u64,
        }
    };
    let mut removed = Vec::new();
    while kept.len() > keep.max(1) {
        let old = kept.remove(0);
        match std::fs::remove_dir_all(&old.path) {
            Ok(()) => removed.push(old.path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SnapshotError::Io {
                    path: old.path,
                    source,
                })
            }
        }
    }
    store.set_snapshots(&kept)?;
    let pruned = match (prune, kept.first()) {
        (true, Some(oldest)) => store.prune_through(oldest.position)?,
        _ => 0,
    };
    let snapshot = kept.last().cloned().unwrap_or(SnapshotPointer {
        position,
        path,
        taken_at: 0,
    });
    Ok(Taken {
        tenant: tenant.to_string(),
        snapshot,
        events: logged.len(),
        folded,
        waiting: waiting.len(),
        rows,
        fingerprint: crate::model::report::fingerprint(&h).fingerprint,
        kept,
        removed,
        pruned,
        start_image: None,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn write_waiting(path: &Path, events: &[Event]) -> Result<(), SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for e in events {
        let line = serde_json::to_string(e).map_err(|source| SnapshotError::Waiting {
            path: path.to_path_buf(),
            line: 0,
            source,
        })?;
        writeln!(f, "{line}").map_err(io)?;
    }
    f.flush().map_err(io)
}

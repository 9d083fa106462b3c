//! Which model is current, and how it got there: `promote` copies a checked artefact to
//! `<models>/current` and keeps a copy under `<models>/releases/`; `rollback` makes the previous
//! release current again. Every change is a line in `<models>/promotions.jsonl`, never rewritten.
//!
//! `current` is replaced by a rename, so a scorer reading it sees the old model or the new one,
//! never half of either.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::artefact::{Artefact, ArtefactError};

pub const CURRENT: &str = "current";
pub const LOG: &str = "promotions.jsonl";
pub const RELEASES: &str = "releases";

/// One line of the promotion log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Release number, counting from 1.
    pub release: u64,
    pub action: Action,
    pub version: String,
    /// The release file, relative to the models folder.
    pub file: String,
    pub data_fingerprint: String,
    /// Unix seconds.
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Promote,
    Rollback,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Model(#[from] ArtefactError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}")]
    Log {
        path: String,
        line: usize,
        message: String,
    },
    #[error("nothing to roll back to: {0}")]
    NoPrevious(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Every entry of the log, oldest first (empty when there is none yet).
pub fn history(models: &Path) -> Result<Vec<Entry>, RegistryError> {
    let path = models.join(LOG);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| RegistryError::Log {
                path: path.display().to_string(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

fn append(models: &Path, e: &Entry) -> Result<(), RegistryError> {
    let path = models.join(LOG);
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    let line = serde_json::to_string(e).map_err(|err| RegistryError::Log {
        path: path.display().to_string(),
        line: 0,
        message: err.to_string(),
    })?;
    writeln!(f, "{line}").map_err(io(&path))?;
    f.sync_all().map_err(io(&path))
}

/// Copies `from` over `<models>/current` through a temporary file and a rename.
fn install(models: &Path, from: &Path) -> Result<(), RegistryError> {
    let tmp = models.join(".current.tmp");
    fs::copy(from, &tmp).map_err(io(&tmp))?;
    let current = models.join(CURRENT);
    fs::rename(&tmp, &current).map_err(io(&current))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Makes `model` the current model of `models`, after loading and checking it.
pub fn promote(models: &Path, model: &Path) -> Result<Entry, RegistryError> {
    // `current` is what the scorer serves as its member model: only a model fit for that slot
    // may become it.
    let a = super::slot::load_for(model, super::slot::MEMBER)?;
    let log = history(models)?;
    let release = log.last().map_or(1, |e| e.release + 1);
    let dir = models.join(RELEASES);
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let file = PathBuf::from(RELEASES).join(format!("{release:04}-{}", a.version));
    let kept = models.join(&file);
    fs::copy(model, &kept).map_err(io(&kept))?;
    install(models, &kept)?;
    let e = Entry {
        release,
        action: Action::Promote,
        version: a.version,
        file: file.display().to_string(),
        data_fingerprint: a.data.fingerprint,
        at: now(),
    };
    append(models, &e)?;
    Ok(e)
}

/// The release that was current before the current one.
fn previous(log: &[Entry]) -> Option<&Entry> {
    // Replaying the log gives the stack of releases that were made current in turn; a rollback
    // pops the top one.
    let mut stack: Vec<&Entry> = Vec::new();
    for e in log {
        match e.action {
            Action::Promote => stack.push(e),
            Action::Rollback => {
                stack.pop();
            }
        }
    }
    stack
        .len()
        .checked_sub(2)
        .and_then(|i| stack.get(i).copied())
}

/// Makes the previous release current again.
pub fn rollback(models: &Path) -> Result<Entry, RegistryError> {
    let log = history(models)?;
    let back = previous(&log)
        .cloned()
        .ok_or_else(|| RegistryError::NoPrevious(models.join(LOG).display().to_string()))?;
    let kept = models.join(&back.file);
    Artefact::load(&kept)?;
    install(models, &kept)?;
    let e = Entry {
        release: log.last().map_or(1, |e| e.release + 1),
        action: Action::Rollback,
        at: now(),
        ..back
    };
    append(models, &e)?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(release: u64, action: Action, version: &str) -> Entry {
        Entry {
            release,
            action,
            version: version.to_string(),
            file: String::new(),
            data_fingerprint: String::new(),
            at: 0,
        }
    }

    #[test]
    fn previous_replays_promotions_and_rollbacks() {
        let p = |log: &[Entry]| previous(log).map(|e| e.version.clone());
        let mut log = vec![entry(1, Action::Promote, "a")];
        assert_eq!(p(&log), None);
        log.push(entry(2, Action::Promote, "b"));
        log.push(entry(3, Action::Promote, "c"));
        assert_eq!(p(&log), Some("b".into()));
        log.push(entry(4, Action::Rollback, "b"));
        assert_eq!(p(&log), Some("a".into()));
        log.push(entry(5, Action::Rollback, "a"));
        assert_eq!(p(&log), None);
    }
}

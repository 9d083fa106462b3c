//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod app;

use std::path::PathBuf;

/// `../shared/realdata/<name>` beside the repository, or `None` (the caller skips with a message).
pub fn realdata(name: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join("realdata")
        .join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

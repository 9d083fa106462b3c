//! The policy a batch command decides under: the allow / deny lists (and rules) from files, or
//! those a tenant's scorer has stored, so that batch and real time decide alike.

use std::path::PathBuf;

use anyhow::Context;
use woolguard::scoring::{Judge, Lists};
use woolguard::serve::store::{EventStore, RedbStore};
use woolguard::serve::StateDir;

#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Allow / deny lists (TOML: `[deny]` and `[allow]`, each with `member`, `device`,
    /// `phone_hash` and `ip_range` arrays), applied before the model as the scorer applies its
    /// own.
    #[arg(long, conflicts_with = "state")]
    pub lists: Option<PathBuf>,
    /// A scorer's state folder: decide under the lists the tenant has stored (the scorer must
    /// not hold it open).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The tenant whose stored lists `--state` reads.
    #[arg(long, default_value = "default", requires = "state")]
    pub tenant: String,
}

/// What a batch command decides under, loaded.
#[derive(Debug, Default)]
pub struct Policy {
    pub lists: Lists,
}

impl PolicyArgs {
    pub fn load(&self) -> anyhow::Result<Policy> {
        if let Some(path) = &self.lists {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--lists {}", path.display()))?;
            let lists = Lists::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("--lists {}: {e}", path.display()))?;
            return Ok(Policy { lists });
        }
        if let Some(state) = &self.state {
            let dir = StateDir::of(state, &self.tenant);
            if !dir.events.is_file() {
                anyhow::bail!(
                    "--state {}: tenant '{}' has no event store at {}",
                    state.display(),
                    self.tenant,
                    dir.events.display()
                );
            }
            let store = RedbStore::open(&dir.events)
                .map_err(|e| anyhow::anyhow!("--state {}: {}", state.display(), e.message))?;
            let entries = store
                .list_entries()
                .map_err(|e| anyhow::anyhow!("--state {}: {}", state.display(), e.message))?;
            let (lists, left_out) = Lists::from_stored(&entries);
            for (entry, reason) in left_out {
                tracing::warn!(entry = %entry, reason = %reason, "stored list entry left out: it can never match");
            }
            return Ok(Policy { lists });
        }
        Ok(Policy::default())
    }
}

impl Policy {
    pub fn judge(&self) -> Judge<'_> {
        Judge {
            lists: &self.lists,
            remedy: None,
        }
    }
}

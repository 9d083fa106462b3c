//! The policy a batch command decides under: the allow / deny lists and the rules from files, or
//! those a tenant's scorer has stored, so that batch and real time decide alike.

use std::path::PathBuf;

use anyhow::Context;
use woolguard::members::tier::TierRules;
use woolguard::scoring::rules::RuleSet;
use woolguard::scoring::{Judge, Lists};
use woolguard::state::dir::StateDir;
use woolguard::state::store::{EventStore, RedbStore};

#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Allow / deny lists (TOML: `[deny]` and `[allow]`, each with `member`, `device`,
    /// `phone_hash` and `ip_range` arrays), applied before the model as the scorer applies its
    /// own.
    #[arg(long, conflicts_with = "state")]
    pub lists: Option<PathBuf>,
    /// Rules (TOML, as training/rules.toml), applied after the lists and before the model's
    /// thresholds, as the scorer applies its own.
    #[arg(long, conflicts_with = "state")]
    pub rules: Option<PathBuf>,
    /// A scorer's state folder: decide under the lists and rules the tenant has stored (the
    /// scorer must not hold it open).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The tenant whose stored lists and rules `--state` reads.
    #[arg(long, default_value = "default", requires = "state")]
    pub tenant: String,
}

/// What a batch command decides under, loaded.
#[derive(Debug, Default)]
pub struct Policy {
    pub lists: Lists,
    pub rules: RuleSet,
}

/// Reads and checks a rules file.
pub fn load_rules(path: &std::path::Path) -> anyhow::Result<RuleSet> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--rules {}", path.display()))?;
    RuleSet::from_toml(&text, &TierRules::default().names)
        .map_err(|e| anyhow::anyhow!("--rules {}: {e}", path.display()))
}

impl PolicyArgs {
    pub fn load(&self) -> anyhow::Result<Policy> {
        let mut policy = Policy::default();
        if let Some(path) = &self.lists {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--lists {}", path.display()))?;
            policy.lists = Lists::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("--lists {}: {e}", path.display()))?;
        }
        if let Some(path) = &self.rules {
            policy.rules = load_rules(path)?;
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
                .with_context(|| format!("--state {}", state.display()))?;
            let context = || format!("--state {}", state.display());
            policy.lists = store.stored_lists().with_context(context)?;
            if let Some(rules) = store.stored_rules().with_context(context)? {
                policy.rules = rules;
            }
        }
        Ok(policy)
    }
}

impl Policy {
    pub fn judge(&self) -> Judge<'_> {
        Judge {
            lists: &self.lists,
            rules: &self.rules,
            remedy: None,
            gangs: Some(&*woolguard::scoring::gang::DEFAULT_POLICY),
        }
    }
}

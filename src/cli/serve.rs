//! `serve`: the HTTP scorer.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use woolguard::serve::{run, ServeConfig, TenantConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML file with `bind`, `admin_key`, `max_body_bytes`, `max_ids`, `review_remedy` and
    /// `[[tenants]]` (name, api_keys, data, model, signup_model). Flags override it.
    #[arg(long, env = "WOOLGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, env = "WOOLGUARD_BIND")]
    pub bind: Option<String>,
    /// One tenant from flags: its member-time model…
    #[arg(long, env = "WOOLGUARD_MODEL")]
    pub model: Option<PathBuf>,
    /// …its sign-up (recruitment-time) model…
    #[arg(long, env = "WOOLGUARD_SIGNUP_MODEL", default_value = "models/signup")]
    pub signup_model: PathBuf,
    /// …its history (without it: the snapshot `woolguard state init` wrote under --state)…
    #[arg(long, env = "WOOLGUARD_DATA")]
    pub data: Option<PathBuf>,
    /// …and its API key.
    #[arg(long, env = "WOOLGUARD_API_KEY")]
    pub api_key: Option<String>,
    #[arg(long, env = "WOOLGUARD_TENANT", default_value = "default")]
    pub tenant: String,
    /// …and the rules it starts with (e.g. training/rules.toml; rules stored by `PUT /v1/rules`
    /// win).
    #[arg(long, env = "WOOLGUARD_RULES")]
    pub rules: Option<PathBuf>,
    /// Folder of the tenants' durable state (history snapshot and event store, see `woolguard
    /// state init`); needed for `POST /v1/events`.
    #[arg(long, env = "WOOLGUARD_STATE")]
    pub state: Option<PathBuf>,
    /// A shared store (`postgres://user@host:port/db`) for the tenants' events, lists and rules,
    /// written and tailed by every replica serving them (default: the embedded store in --state).
    #[arg(long, env = "WOOLGUARD_STORE")]
    pub store: Option<String>,
    /// Seconds between full refreshes (default 3600; 0: only on request). Events reach the
    /// scores of the members they touch at once, without waiting for one.
    #[arg(long, env = "WOOLGUARD_REFRESH_SECS")]
    pub refresh_secs: Option<u64>,
    /// The key for `POST /v1/models/reload`.
    #[arg(long, env = "WOOLGUARD_ADMIN_KEY")]
    pub admin_key: Option<String>,
}

pub fn run_cli(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<ServeConfig>(&text)
                .with_context(|| format!("serve config {}", path.display()))?
        }
        None => ServeConfig::default(),
    };
    if let Some(b) = args.bind {
        config.bind = b;
    }
    if args.state.is_some() {
        config.state = args.state;
    }
    if args.store.is_some() {
        config.store = args.store;
    }
    if let Some(r) = args.refresh_secs {
        config.refresh_secs = r;
    }
    if args.admin_key.is_some() {
        config.admin_key = args.admin_key;
    }
    if let Some(model) = args.model {
        let key = args
            .api_key
            .context("--api-key (or WOOLGUARD_API_KEY) is needed with --model")?;
        let data = args.data;
        if data.is_none() && config.state.is_none() {
            anyhow::bail!(
                "--model needs a history: --data, or --state made by `woolguard state init`"
            );
        }
        config.tenants.push(TenantConfig {
            name: args.tenant,
            api_keys: vec![key],
            data,
            model,
            signup_model: args.signup_model,
            rules: args.rules,
            challenger: None,
            // The service's --store, if given, serves this tenant.
            store: None,
        });
    }
    if config.tenants.is_empty() {
        anyhow::bail!(
            "no tenant: give --model, --api-key and --data (or --state), or --config with [[tenants]]"
        );
    }
    actix_web::rt::System::new().block_on(run(config))?;
    Ok(ExitCode::SUCCESS)
}

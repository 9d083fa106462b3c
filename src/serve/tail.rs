//! Replicas of a tenant on a shared store: each folds in the events the others stored, in log
//! order. One thread per process waits for the store's notifications (any tenant named in one is
//! caught up at once) and polls every `tail_poll_ms` besides, so a lost notification or a lost
//! connection only delays a replica by one poll.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use super::{Data, ServeConfig, StartError};
use crate::state::store::PgTail;

/// The shared store of each tenant (by position), if any.
pub fn store_of(config: &ServeConfig, tenant: usize) -> Option<&str> {
    config
        .tenants
        .get(tenant)
        .and_then(|t| t.store.as_deref())
        .or(config.store.as_deref())
}

/// Starts listening and polling for the tenants on a shared store; nothing when none is.
pub fn start(state: &Data, config: &ServeConfig) -> Result<(), StartError> {
    let shared: Vec<usize> = (0..state.tenants.len())
        .filter(|&i| state.tenants[i].shares_store())
        .collect();
    if shared.is_empty() {
        return Ok(());
    }
    let (wake, woken) = mpsc::channel::<String>();
    let urls: BTreeSet<&str> = shared.iter().filter_map(|&i| store_of(config, i)).collect();
    for url in urls {
        PgTail::listen(url, wake.clone()).map_err(|source| StartError::Store {
            tenant: "(notifications)".to_string(),
            source,
        })?;
    }
    let poll = Duration::from_millis(config.tail_poll_ms.max(1));
    let state = state.clone();
    std::thread::Builder::new()
        .name("woolguard-tail".to_string())
        .spawn(move || {
            // The last error of each tenant, logged once until it changes.
            let mut failing: Vec<Option<String>> = vec![None; state.tenants.len()];
            loop {
                let named = match woken.recv_timeout(poll) {
                    Ok(name) => Some(name),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    // Every listener is gone: polling alone.
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(poll);
                        None
                    }
                };
                for &i in &shared {
                    let t = &state.tenants[i];
                    if named
                        .as_deref()
                        .is_some_and(|n| !n.is_empty() && n != t.name)
                    {
                        continue;
                    }
                    match t.catch_up() {
                        Ok(_) => {
                            if failing[i].take().is_some() {
                                tracing::info!(tenant = %t.name, "caught up with the store again");
                            }
                        }
                        Err(e) => {
                            let e = e.to_string();
                            if failing[i].as_deref() != Some(e.as_str()) {
                                tracing::warn!(tenant = %t.name, reason = %e, "cannot catch up with the store");
                                failing[i] = Some(e);
                            }
                        }
                    }
                }
            }
        })
        .map_err(StartError::Serve)?;
    Ok(())
}

//! The rescorer: one thread per tenant with an event store rescores, off the requests, the group
//! mates that an event's group change made stale (an event rescores its own member before the
//! answer). A burst of events on one group marks its members once, so they are rescored once.
//! A read of a stale member rescores it first, so no answer waits for this thread.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::StartError;
use crate::state::Tenant;

/// Stale members rescored in one pass: each pass reads the online state once, under its read
/// lock, so a pass is kept short for the sign-ups that wait to write.
const BATCH: usize = 256;

/// How long the thread waits for work before it checks that its tenant still exists.
const IDLE: Duration = Duration::from_secs(1);

/// Starts a rescorer for each tenant that takes events; each stops once its tenant is dropped.
pub fn start(tenants: &[Arc<Tenant>]) -> Result<(), StartError> {
    for t in tenants.iter().filter(|t| t.has_store()) {
        let tenant: Weak<Tenant> = Arc::downgrade(t);
        std::thread::Builder::new()
            .name(format!("woolguard-rescore-{}", t.name))
            .spawn(move || run(tenant))
            .map_err(StartError::Serve)?;
    }
    Ok(())
}

fn run(tenant: Weak<Tenant>) {
    // The last error, logged once until it changes.
    let mut failing: Option<String> = None;
    while let Some(t) = tenant.upgrade() {
        let started = std::time::Instant::now();
        match t.rescore_stale(BATCH, IDLE) {
            Ok(0) => failing = None,
            Ok(_) => {
                failing = None;
                // At most half of one core: requests come first (a read of a stale member
                // rescores it itself).
                drop(t);
                std::thread::sleep(started.elapsed());
            }
            Err(e) => {
                let e = e.to_string();
                if failing.as_deref() != Some(e.as_str()) {
                    tracing::warn!(tenant = %t.name, reason = %e, "cannot rescore stale group mates; they are rescored when read");
                    failing = Some(e);
                }
                drop(t);
                std::thread::sleep(IDLE);
            }
        }
    }
}

//! The shared store: PostgreSQL, for several replicas of a tenant (`postgres://…`).
//!
//! Per tenant: an append-only log (`woolguard_log`: a gap-free position per tenant, unique by
//! event id forever), a head row holding the last position and how often the lists and rules
//! changed (`woolguard_head`; appends lock it, so positions are given and committed in one order),
//! the list entries (`woolguard_lists`) and named values such as the rules and the snapshot
//! pointer (`woolguard_meta`). Each commit that changes a tenant sends `NOTIFY woolguard_log` with
//! the tenant's name, which the replicas' [`PgTail`] listens for; they also poll, so a lost
//! notification only delays them.
//!
//! The calls are blocking (the scorer makes them off its async workers); they run on one small
//! runtime of the process's own, each bounded by [`STATEMENT_TIMEOUT`], so an unreachable server
//! is an error within seconds, never a hang.

use std::future::Future;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::group::GroupCommit;
use super::{from_json, to_json, Appended, EventStore, Logged, StoreError, Versions};
use crate::state::events::Event;

/// The channel every change of a tenant is announced on; the payload is the tenant's name.
pub const CHANNEL: &str = "woolguard_log";

/// How long one call may take, connecting included.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS woolguard_log (
    tenant    text        NOT NULL,
    seq       bigint      NOT NULL,
    event_id  text        NOT NULL,
    body      text        NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, seq),
    UNIQUE (tenant, event_id)
);
CREATE TABLE IF NOT EXISTS woolguard_head (
    tenant text   PRIMARY KEY,
    seq    bigint NOT NULL DEFAULT 0,
    lists  bigint NOT NULL DEFAULT 0,
    rules  bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS woolguard_pruned (
    tenant   text NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (tenant, event_id)
);
CREATE TABLE IF NOT EXISTS woolguard_lists (
    tenant text NOT NULL,
    entry  text NOT NULL,
    PRIMARY KEY (tenant, entry)
);
CREATE TABLE IF NOT EXISTS woolguard_meta (
    tenant text NOT NULL,
    key    text NOT NULL,
    value  text NOT NULL,
    PRIMARY KEY (tenant, key)
);
";

/// Sets a named value of a tenant: `$1` tenant, `$2` key, `$3` value.
const SET_META: &str = "INSERT INTO woolguard_meta (tenant, key, value) VALUES ($1, $2, $3)
     ON CONFLICT (tenant, key) DO UPDATE SET value = EXCLUDED.value";

fn pg_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Postgres(e.to_string())
}

/// The process's runtime for the shared store's connections (two threads).
fn runtime() -> Result<&'static tokio::runtime::Runtime, StoreError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("woolguard-pg")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StoreError::Postgres(format!("starting the store's runtime: {e}")))
}

/// Runs `fut` on the store's runtime and waits for it, for at most [`STATEMENT_TIMEOUT`]; callable
/// from any thread that may block (not from an async task).
fn block<T: Send + 'static>(
    fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let out = match tokio::time::timeout(STATEMENT_TIMEOUT, fut).await {
            Ok(out) => out,
            Err(_) => Err(StoreError::Postgres(format!(
                "no answer within {} s",
                STATEMENT_TIMEOUT.as_secs()
            ))),
        };
        // The caller waits on the other end; it is gone only if its thread ended.
        let _ = tx.send(out);
    });
    rx.recv()
        .map_err(|_| StoreError::Postgres("the store's runtime stopped".to_string()))?
}

/// One tenant's part of a shared PostgreSQL store.
pub struct PgStore {
    tenant: String,
    pool: Pool,
    /// Concurrent appends of this process, committed together.
    group: GroupCommit,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`, as libpq takes it) and creates the
    /// tables where absent. Fails when the server cannot be reached.
    pub fn connect(url: &str, tenant: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Postgres(format!("store address {url:?}: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // Building the pool does not touch the runtime; its timers run on it once used.
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(STATEMENT_TIMEOUT))
            .create_timeout(Some(STATEMENT_TIMEOUT))
            .recycle_timeout(Some(STATEMENT_TIMEOUT))
            .build()
            .map_err(pg_err)?;
        let store = PgStore {
            tenant: tenant.to_string(),
            pool,
            group: GroupCommit::default(),
        };
        let pool = store.pool.clone();
        let name = store.tenant.clone();
        block(async move {
            let mut client = pool.get().await.map_err(pg_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            // Replicas starting together would race to create the same tables.
            tx.batch_execute("SELECT pg_advisory_xact_lock(7140700151)")
                .await
                .map_err(pg_err)?;
            tx.batch_execute(SCHEMA).await.map_err(pg_err)?;
            tx.execute(
                "INSERT INTO woolguard_head (tenant) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&name],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)
        })?;
        Ok(store)
    }

    /// Runs `f` with a pooled connection on the store's runtime, for the tenant.
    fn with<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(deadpool_postgres::Object, String) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send,
    {
        let pool = self.pool.clone();
        let tenant = self.tenant.clone();
        block(async move {
            let client = pool.get().await.map_err(pg_err)?;
            f(client, tenant).await
        })
    }

    /// Stores batches in one transaction: each event not stored yet (by id, across the batches
    /// too) gets the next log position; each batch is answered with its own part.
    fn commit_group(
        &self,
        batches: Vec<Vec<Event>>,
    ) -> Result<Vec<(Appended, Vec<Logged>)>, StoreError> {
        let mut bodies = Vec::with_capacity(batches.len());
        for b in &batches {
            let mut these = Vec::with_capacity(b.len());
            for e in b {
                these.push(String::from_utf8_lossy(&to_json(e)?).into_owned());
            }
            bodies.push(these);
        }
        self.with(move |mut client, tenant| async move {
            let ids: Vec<String> = batches.iter().flatten().map(|e| e.id().to_string()).collect();
            let tx = client.transaction().await.map_err(pg_err)?;
            // The head row's lock makes appends of one tenant one after the other: positions are
            // given without gaps and become visible in their order.
            let lock = tx
                .prepare_cached("SELECT seq FROM woolguard_head WHERE tenant = $1 FOR UPDATE")
                .await
                .map_err(pg_err)?;
            let head: i64 = tx
                .query_one(&lock, &[&tenant])
                .await
                .map_err(pg_err)?
                .get(0);
            let known = tx
                .prepare_cached(
                    "SELECT event_id FROM woolguard_log WHERE tenant = $1 AND event_id = ANY($2)
                     UNION ALL
                     SELECT event_id FROM woolguard_pruned WHERE tenant = $1 AND event_id = ANY($2)",
                )
                .await
                .map_err(pg_err)?;
            let mut seen: std::collections::HashSet<String> = tx
                .query(&known, &[&tenant, &ids])
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut parts = Vec::with_capacity(batches.len());
            let (mut seqs, mut new_ids, mut new_bodies) = (Vec::new(), Vec::new(), Vec::new());
            for (batch, bodies) in batches.into_iter().zip(bodies) {
                let mut out = Appended::default();
                let mut fresh = Vec::new();
                for (e, body) in batch.into_iter().zip(bodies) {
                    let id = e.id().to_string();
                    if !seen.insert(id.clone()) {
                        out.duplicates.push(id);
                        continue;
                    }
                    let seq = head + 1 + seqs.len() as i64;
                    seqs.push(seq);
                    new_ids.push(id.clone());
                    new_bodies.push(body);
                    out.accepted.push(id);
                    fresh.push(Logged {
                        seq: seq as u64,
                        event: e,
                    });
                }
                parts.push((out, fresh));
            }
            if !seqs.is_empty() {
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO woolguard_log (tenant, seq, event_id, body)
                         SELECT $1, s, i, b FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(s, i, b)",
                    )
                    .await
                    .map_err(pg_err)?;
                tx.execute(&insert, &[&tenant, &seqs, &new_ids, &new_bodies])
                    .await
                    .map_err(pg_err)?;
                let last = head + seqs.len() as i64;
                tx.execute(
                    "UPDATE woolguard_head SET seq = $2 WHERE tenant = $1",
                    &[&tenant, &last],
                )
                .await
                .map_err(pg_err)?;
                tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &tenant])
                    .await
                    .map_err(pg_err)?;
            }
            // Acknowledged only once this commit returns (synchronous_commit: the WAL is flushed).
            tx.commit().await.map_err(pg_err)?;
            Ok(parts)
        })
    }

    /// Sets a named value of the tenant (the rules, a pointer), durably.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.with(move |client, tenant| async move {
            client
                .execute(SET_META, &[&tenant, &key, &value])
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }

    /// A named value of the tenant, if set.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_string();
        self.with(move |client, tenant| async move {
            let row = client
                .query_opt(
                    "SELECT value FROM woolguard_meta WHERE tenant = $1 AND key = $2",
                    &[&tenant, &key],
                )
                .await
                .map_err(pg_err)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    /// Changes something other than the log (`change`), counts it in the head row's `column` and
    /// announces it, in one transaction.
    fn change_counted<F>(&self, column: &'static str, change: F) -> Result<(), StoreError>
    where
        F: for<'t> FnOnce(
                &'t deadpool_postgres::Transaction<'t>,
                &'t str,
            ) -> std::pin::Pin<
                Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 't>,
            > + Send
            + 'static,
    {
        self.with(move |mut client, tenant| async move {
            let tx = client.transaction().await.map_err(pg_err)?;
            change(&tx, &tenant).await.map_err(pg_err)?;
            let bump =
                format!("UPDATE woolguard_head SET {column} = {column} + 1 WHERE tenant = $1");
            tx.execute(&bump, &[&tenant]).await.map_err(pg_err)?;
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &tenant])
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)
        })
    }
}

impl EventStore for PgStore {
    fn append(&self, events: &[Event]) -> Result<(Appended, Vec<Logged>), StoreError> {
        self.group
            .append(events, |batches| self.commit_group(batches))
    }

    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<Logged>, StoreError> {
        let after = after as i64;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.with(move |client, tenant| async move {
            let st = client
                .prepare_cached(
                    "SELECT seq, event_id, body FROM woolguard_log
                     WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .await
                .map_err(pg_err)?;
            let rows = client
                .query(&st, &[&tenant, &after, &limit])
                .await
                .map_err(pg_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for (expected, r) in (after as u64 + 1..).zip(rows) {
                let seq = r.get::<_, i64>(0) as u64;
                if seq != expected {
                    return Err(StoreError::Gap {
                        tenant,
                        expected,
                        found: seq,
                    });
                }
                let id: String = r.get(1);
                let body: String = r.get(2);
                out.push(Logged {
                    seq,
                    event: from_json(&id, body.as_bytes())?,
                });
            }
            Ok(out)
        })
    }

    fn contains(&self, event_id: &str) -> Result<bool, StoreError> {
        let id = event_id.to_string();
        self.with(move |client, tenant| async move {
            let row = client
                .query_opt(
                    "SELECT 1 FROM woolguard_log WHERE tenant = $1 AND event_id = $2
                     UNION ALL
                     SELECT 1 FROM woolguard_pruned WHERE tenant = $1 AND event_id = $2
                     LIMIT 1",
                    &[&tenant, &id],
                )
                .await
                .map_err(pg_err)?;
            Ok(row.is_some())
        })
    }

    fn set_list_entry(&self, entry: &str, present: bool) -> Result<(), StoreError> {
        let entry = entry.to_string();
        self.change_counted("lists", move |tx, tenant| {
            Box::pin(async move {
                let sql = if present {
                    "INSERT INTO woolguard_lists (tenant, entry) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                } else {
                    "DELETE FROM woolguard_lists WHERE tenant = $1 AND entry = $2"
                };
                tx.execute(sql, &[&tenant, &entry]).await.map(|_| ())
            })
        })
    }

    fn list_entries(&self) -> Result<Vec<String>, StoreError> {
        self.with(move |client, tenant| async move {
            let rows = client
                .query(
                    "SELECT entry FROM woolguard_lists WHERE tenant = $1 ORDER BY entry",
                    &[&tenant],
                )
                .await
                .map_err(pg_err)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn set_rules(&self, json: &str) -> Result<(), StoreError> {
        let json = json.to_string();
        self.change_counted("rules", move |tx, tenant| {
            Box::pin(async move {
                tx.execute(SET_META, &[&tenant, &"rules", &json])
                    .await
                    .map(|_| ())
            })
        })
    }

    fn rules(&self) -> Result<Option<String>, StoreError> {
        self.meta("rules")
    }

    fn snapshots_json(&self) -> Result<Option<String>, StoreError> {
        self.meta("snapshots")
    }

    fn set_snapshots_json(&self, json: &str) -> Result<(), StoreError> {
        self.set_meta("snapshots", json)
    }

    fn prune_through(&self, position: u64) -> Result<usize, StoreError> {
        let position = position as i64;
        self.with(move |mut client, tenant| async move {
            let tx = client.transaction().await.map_err(pg_err)?;
            // The ids stay (a retry is still a duplicate); the bodies go.
            tx.execute(
                "INSERT INTO woolguard_pruned (tenant, event_id)
                 SELECT tenant, event_id FROM woolguard_log WHERE tenant = $1 AND seq <= $2
                 ON CONFLICT DO NOTHING",
                &[&tenant, &position],
            )
            .await
            .map_err(pg_err)?;
            let n = tx
                .execute(
                    "DELETE FROM woolguard_log WHERE tenant = $1 AND seq <= $2",
                    &[&tenant, &position],
                )
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(n as usize)
        })
    }

    fn versions(&self) -> Result<Versions, StoreError> {
        self.with(move |client, tenant| async move {
            let row = client
                .query_opt(
                    "SELECT lists, rules FROM woolguard_head WHERE tenant = $1",
                    &[&tenant],
                )
                .await
                .map_err(pg_err)?;
            Ok(row.map_or(Versions::default(), |r| Versions {
                lists: r.get::<_, i64>(0) as u64,
                rules: r.get::<_, i64>(1) as u64,
            }))
        })
    }

    fn shared(&self) -> bool {
        true
    }
}

/// Listens for the changes of a shared store's tenants.
pub struct PgTail;

impl PgTail {
    /// Listens on [`CHANNEL`] at `url` and sends each tenant named in a notification to `wake`,
    /// until `wake`'s receiver is gone. A lost connection is opened again (after 0.2 s, then
    /// doubling up to 5 s); the receiver polls meanwhile, so nothing waits on this.
    pub fn listen(url: &str, wake: mpsc::Sender<String>) -> Result<(), StoreError> {
        let url = url.to_string();
        runtime()?.spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                match Self::session(&url, &wake).await {
                    Ok(()) => return, // the receiver is gone
                    Err(e) => {
                        tracing::warn!(reason = %e, retry_in_ms = backoff.as_millis() as u64, "store notifications lost; listening again");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        });
        Ok(())
    }

    /// One connection's worth of notifications; `Ok` when the receiver is gone.
    async fn session(url: &str, wake: &mpsc::Sender<String>) -> Result<(), StoreError> {
        use futures_util::StreamExt;
        let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.map_err(pg_err)?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(m) = messages.next().await {
                match m {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().to_string()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(reason = %e, "store notification connection failed");
                        return;
                    }
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(pg_err)?;
        // The lag after a reconnection is covered by the receiver's own poll.
        let _ = wake.send(String::new());
        while let Some(tenant) = rx.recv().await {
            if wake.send(tenant).is_err() {
                driver.abort();
                return Ok(());
            }
        }
        Err(StoreError::Postgres(
            "the notification connection closed".to_string(),
        ))
    }
}

//! The request pool and its door for callers, [`Db::begin_as`]. The door for the few named, logged operations
//! that must bypass RLS is a separate type, [`crate::PrivilegedDb`], which a `Db` cannot be turned into.

use crate::tls::{PgTarget, Tls};
use crate::tx::{Access, CallerTx, Identity, SET_IDENTITY};
use crate::{Caller, DbError, DbRole, PrivilegedDb};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::time::{Duration, Instant};
use tokio_postgres::{Row, types::ToSql};

/// How long a request waits for a pooled connection before answering 503.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// The request pool. It logs in as `kith_authenticator`, which can do nothing until a role is set.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    config: tokio_postgres::Config,
    tls: Tls,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("status", &self.pool.status()).finish()
    }
}

impl Db {
    /// A pool of at most `max_size` connections; connections are opened lazily.
    pub fn new(config: tokio_postgres::Config, max_size: usize) -> Result<Self, DbError> {
        Self::with_wait_timeout(config, max_size, POOL_WAIT)
    }

    /// A pool whose requests wait at most `wait` for a free connection before failing as unavailable (503).
    pub fn with_wait_timeout(config: tokio_postgres::Config, max_size: usize, wait: Duration) -> Result<Self, DbError> {
        let target = PgTarget::from_config(config).map_err(|err| DbError::Unavailable(err.to_string()))?;
        Self::build(target, max_size, wait)
    }

    /// A pool of at most `max_size` connections to `target`, protected as its `sslmode` says.
    pub fn connect(target: PgTarget, max_size: usize) -> Result<Self, DbError> {
        Self::build(target, max_size, POOL_WAIT)
    }

    fn build(target: PgTarget, max_size: usize, wait: Duration) -> Result<Self, DbError> {
        let PgTarget { config, tls } = target;
        let manager = Manager::from_config(
            config.clone(),
            tls.connector(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .wait_timeout(Some(wait))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| DbError::Unavailable(err.to_string()))?;
        Ok(Db { pool, config, tls })
    }

    /// The request pool and, over the same connections, the privileged door. Called once, where the pool is
    /// opened (the binary's start-up, a one-off command, the test harness): whoever opens the pool decides who
    /// gets the door; everyone else is handed the `Db` alone.
    pub fn with_privileged(
        config: tokio_postgres::Config,
        max_size: usize,
        wait: Duration,
    ) -> Result<(Db, PrivilegedDb), DbError> {
        let db = Self::with_wait_timeout(config, max_size, wait)?;
        Ok((db.clone(), PrivilegedDb::over(db)))
    }

    /// Opens a transaction that runs as `caller`: the only way a request reaches tenant data.
    pub async fn begin_as(&self, caller: &Caller, access: Access) -> Result<CallerTx, DbError> {
        if caller.role() == DbRole::ServiceRole {
            tracing::info!(
                target: "kith::privileged",
                via = "service_role token",
                method = %caller.request().method,
                path = %caller.request().path,
                "privileged database access"
            );
        }
        Ok(CallerTx::new(self.connection().await?, caller.clone(), access))
    }

    /// Opens a service-role transaction for background maintenance that serves no request (re-scoring contacts
    /// whose scores have aged). A separate door from [`PrivilegedDb::begin`], logged under its own target, so
    /// every RLS-bypassing path has a name; an architecture test keeps it out of request handlers.
    pub async fn begin_maintenance(&self, task: &'static str) -> Result<CallerTx, DbError> {
        tracing::debug!(target: "kith::maintenance", task, "maintenance database access");
        self.begin_service_role("MAINTENANCE", task).await
    }

    /// The service-role transaction behind both named doors; `method` and `purpose` show in `request.method`
    /// and `request.path`.
    pub(crate) async fn begin_service_role(
        &self,
        method: &'static str,
        purpose: &'static str,
    ) -> Result<CallerTx, DbError> {
        let caller = Caller::from_verified(
            DbRole::ServiceRole,
            None,
            None,
            &serde_json::json!({"role": "service_role"}),
        )
        .for_request(method, purpose);
        Ok(CallerTx::new(self.connection().await?, caller, Access::ReadWrite))
    }

    /// Runs one read-only statement as `caller` in a single round trip: `BEGIN READ ONLY`, the identity, the
    /// statement and `COMMIT` are pipelined together.
    pub async fn read_as(
        &self,
        caller: &Caller,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        let client = self.connection().await?;
        match read_once(&client, caller, sql, params).await {
            // A dead connection (restart, failover, killed backend): drop it and the idle ones, read once more.
            Err(err) if err.is_unavailable() => {
                crate::tx::purge_idle(&self.pool);
                drop(Object::take(client));
                tracing::info!(error = %err, "retrying a read on a fresh connection");
                let client = self.connection().await?;
                let result = read_once(&client, caller, sql, params).await;
                if result.as_ref().is_err_and(DbError::is_unavailable) {
                    crate::tx::purge_idle(&self.pool);
                    drop(Object::take(client));
                }
                result
            }
            result => result,
        }
    }

    /// The newest applied migration, read with the pool's own login (its one direct grant).
    pub async fn schema_version(&self) -> Result<i32, DbError> {
        let client = self.connection().await?;
        let row = client
            .query_one("select coalesce(max(version), 0) from kith.schema_migrations", &[])
            .await?;
        Ok(row.get(0))
    }

    /// Opens a dedicated connection (the pool's login, outside the pool) that `LISTEN`s on `channel` and
    /// yields each notification's payload. Returns once `LISTEN` has run; [`Notifications::recv`] ends when the
    /// connection does. For background tasks such as schema-cache reloads, never for the request path.
    pub async fn listen(&self, channel: &str) -> Result<Notifications, DbError> {
        use futures_util::StreamExt;
        let (client, mut connection) = self.config.connect(self.tls.connector()).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(note)) => {
                        if sender.send(note.payload().to_owned()).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        let listen = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
        client.batch_execute(&listen).await?;
        Ok(Notifications {
            receiver,
            _client: client,
        })
    }

    /// Connections currently open and the pool's limit, for metrics.
    pub fn pool_status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.max_size)
    }

    /// The pool's occupancy right now, for metrics.
    pub fn pool_stats(&self) -> PoolStats {
        let status = self.pool.status();
        PoolStats {
            max: status.max_size,
            idle: status.available,
            used: status.size.saturating_sub(status.available),
            pending: status.waiting,
        }
    }

    /// A pooled connection; the wait (including opening a new connection) is recorded in
    /// `db_client_connection_wait_time_seconds`, a timeout in `db_client_connection_timeouts_total`.
    async fn connection(&self) -> Result<Object, DbError> {
        let started = Instant::now();
        let result = self.pool.get().await;
        metrics::histogram!("db_client_connection_wait_time_seconds").record(started.elapsed().as_secs_f64());
        Ok(result?)
    }
}

/// `BEGIN READ ONLY`, the identity, the statement and `COMMIT`, pipelined.
async fn read_once(
    client: &Object,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, DbError> {
    let statement = client.prepare_cached(sql).await?;
    let set_identity = client.prepare_cached(SET_IDENTITY).await?;
    let identity = Identity::of(caller, None);
    let identity = identity.params();
    let (begin, set, rows, commit) = futures_util::join!(
        client.batch_execute(Access::ReadOnly.begin_sql()),
        client.query(&set_identity, &identity),
        client.query(&statement, params),
        // After an error earlier in the pipeline, COMMIT ends the aborted transaction as a rollback.
        client.batch_execute("COMMIT"),
    );
    begin?;
    set?;
    let rows = rows?;
    commit?;
    Ok(rows)
}

/// The request pool's occupancy (deadpool's `Status`, in OpenTelemetry's terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// The most connections the pool opens.
    pub max: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Connections handed out to requests.
    pub used: usize,
    /// Requests waiting for a connection.
    pub pending: usize,
}

/// Notifications received on a dedicated `LISTEN` connection; dropping this closes the connection.
pub struct Notifications {
    receiver: tokio::sync::mpsc::Receiver<String>,
    _client: tokio_postgres::Client,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifications { .. }")
    }
}

impl Notifications {
    /// The next notification's payload, or `None` once the connection has closed.
    pub async fn recv(&mut self) -> Option<String> {
        self.receiver.recv().await
    }
}

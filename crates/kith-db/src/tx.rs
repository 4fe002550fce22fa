//! Caller-scoped transactions: the only door from a request to tenant data.
//!
//! Guarantees: every statement of a [`CallerTx`] runs inside one transaction whose role and
//! `request.jwt.claims` are the caller's, set transaction-locally with `set_config(.., true)`. The settings are
//! not sent on their own: `BEGIN`, the settings and the first statement are pipelined in one round trip. If the
//! settings failed, the transaction is aborted and the statement fails with it; if `BEGIN` itself failed, the
//! statement would run as the pool's login role, which has no privileges at all. A transaction dropped without
//! `commit` is rolled back before its connection is reused.

use crate::{Caller, DbError};
use deadpool_postgres::{Object, Pool};
use tokio_postgres::{Row, types::ToSql};

/// Whether a transaction may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `BEGIN READ ONLY`: for GET and HEAD requests.
    ReadOnly,
    /// `BEGIN`: for requests that write.
    ReadWrite,
}

impl Access {
    pub(crate) fn begin_sql(self) -> &'static str {
        match self {
            Access::ReadOnly => "BEGIN READ ONLY",
            Access::ReadWrite => "BEGIN",
        }
    }
}

/// Sets the caller's identity (and, when given, a statement timeout) for the current transaction only.
pub(crate) const SET_IDENTITY: &str = "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), \
     set_config('request.method', $3, true), set_config('request.path', $4, true), \
     set_config('request.headers', $5, true), \
     set_config('statement_timeout', coalesce($6, current_setting('statement_timeout')), true)";

/// The parameters of [`SET_IDENTITY`] for one caller.
pub(crate) struct Identity<'a> {
    role: &'static str,
    claims: &'a str,
    method: &'a str,
    path: &'a str,
    headers: &'a str,
    statement_timeout: Option<&'a str>,
}

impl<'a> Identity<'a> {
    pub(crate) fn of(caller: &'a Caller, statement_timeout: Option<&'a str>) -> Self {
        let request = caller.request();
        Identity {
            role: caller.role().as_str(),
            claims: caller.claims_json(),
            method: &request.method,
            path: &request.path,
            headers: request.headers_json(),
            statement_timeout,
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.role,
            &self.claims,
            &self.method,
            &self.path,
            &self.headers,
            &self.statement_timeout,
        ]
    }
}

impl crate::RequestMeta {
    /// The value of `request.headers`: the JSON object given, or `{}`.
    pub(crate) fn headers_json(&self) -> &str {
        if self.headers.is_empty() { "{}" } else { &self.headers }
    }
}

/// A transaction opened for one caller. Statement parameters are always bound, never interpolated.
pub struct CallerTx {
    client: Option<Object>,
    /// The pool the connection came from, for a fresh connection after a dead one.
    pool: Option<Pool>,
    caller: Caller,
    access: Access,
    state: TxState,
    statement_timeout: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxState {
    /// `BEGIN` and the identity settings travel with the first statement.
    Pending,
    Open,
    Finished,
}

impl CallerTx {
    pub(crate) fn new(client: Object, caller: Caller, access: Access) -> Self {
        CallerTx {
            pool: Object::pool(&client),
            client: Some(client),
            caller,
            access,
            state: TxState::Pending,
            statement_timeout: None,
        }
    }

    /// Limits every statement of the transaction to `millis` milliseconds (0: no limit). Sent with the identity,
    /// so it costs no round trip; it has no effect once a statement has run.
    pub fn with_statement_timeout(mut self, millis: u64) -> Self {
        self.statement_timeout = Some(format!("{millis}ms"));
        self
    }

    /// The caller this transaction runs as.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    fn client(&self) -> Result<&Object, DbError> {
        self.client
            .as_ref()
            .ok_or_else(|| DbError::Unavailable("transaction already finished".into()))
    }

    /// Runs a statement and returns its rows.
    pub async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, DbError> {
        self.query_with(sql, params, true).await
    }

    /// Runs a statement without keeping it in the connection's statement cache: for generated SQL whose text
    /// varies with each request (the data API), which would otherwise grow the cache without bound.
    pub async fn query_uncached(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, DbError> {
        self.query_with(sql, params, false).await
    }

    async fn query_with(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        cached: bool,
    ) -> Result<Vec<Row>, DbError> {
        if self.state != TxState::Pending {
            let client = self.client()?;
            return Ok(client.query(&prepare(client, sql, cached).await?, params).await?);
        }
        match self.first_statement(sql, params, cached).await {
            Err(err) if err.is_unavailable() => {
                // The connection died under us (a restart, a failover, a killed backend): the idle ones likely
                // did too. Drop them all, and this one, so the pool opens fresh connections.
                self.discard_connection();
                // Nothing was committed, but only reads are retried: a write is never sent twice.
                if self.access != Access::ReadOnly {
                    return Err(err);
                }
                tracing::info!(error = %err, "retrying a read on a fresh connection");
                let Some(pool) = self.pool.clone() else { return Err(err) };
                self.client = Some(pool.get().await?);
                self.state = TxState::Pending;
                let result = self.first_statement(sql, params, cached).await;
                if result.as_ref().is_err_and(DbError::is_unavailable) {
                    self.discard_connection();
                }
                result
            }
            result => result,
        }
    }

    /// `BEGIN`, the identity and the first statement, pipelined in one round trip.
    async fn first_statement(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        cached: bool,
    ) -> Result<Vec<Row>, DbError> {
        // Borrow the field, not `self`, so the state can change while the client is in use.
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| DbError::Unavailable("transaction already finished".into()))?;
        let statement = prepare(client, sql, cached).await?;
        let set_identity = client.prepare_cached(SET_IDENTITY).await?;
        let identity = Identity::of(&self.caller, self.statement_timeout.as_deref());
        let identity = identity.params();
        // Mark the transaction open before sending: from here on, dropping it must roll back.
        self.state = TxState::Open;
        let (_, _, rows) = futures_util::try_join!(
            client.batch_execute(self.access.begin_sql()),
            client.query(&set_identity, &identity),
            client.query(&statement, params),
        )?;
        Ok(rows)
    }

    /// Takes the (dead) connection out of the pool for good and empties the pool's idle connections.
    fn discard_connection(&mut self) {
        if let Some(pool) = &self.pool {
            purge_idle(pool);
        }
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
        self.state = TxState::Finished;
    }

    /// Runs a statement that must return exactly one row.
    pub async fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, DbError> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(DbError::RowCount(n)),
        }
    }

    /// Runs a statement that returns at most one row.
    pub async fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Commits. A transaction that ran no statement has nothing to commit.
    pub async fn commit(mut self) -> Result<(), DbError> {
        if self.state == TxState::Open {
            self.state = TxState::Finished;
            self.client()?.batch_execute("COMMIT").await?;
        }
        self.state = TxState::Finished;
        Ok(())
    }

    /// Rolls back explicitly (dropping the transaction does the same).
    pub async fn rollback(mut self) -> Result<(), DbError> {
        if self.state == TxState::Open {
            self.state = TxState::Finished;
            self.client()?.batch_execute("ROLLBACK").await?;
        }
        self.state = TxState::Finished;
        Ok(())
    }
}

async fn prepare(client: &Object, sql: &str, cached: bool) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    if cached {
        client.prepare_cached(sql).await
    } else {
        client.prepare(sql).await
    }
}

/// Drops every idle connection of `pool`: after one connection died of a connection-class failure, the others
/// most likely did too, and each would cost a request its answer.
pub(crate) fn purge_idle(pool: &Pool) {
    let _ = pool.retain(|_, _| false);
}

impl Drop for CallerTx {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        if self.state != TxState::Open {
            return; // back to the pool as it came
        }
        // The connection must not return to the pool inside this caller's transaction.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(client));
                    }
                });
            }
            Err(_) => drop(Object::take(client)),
        }
    }
}

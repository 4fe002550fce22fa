//! The caller's transaction: opened with [`kith_db::Db::begin_as`] (the identity, `BEGIN`, the data API's
//! `statement_timeout` and the search path travel together), one built statement run in it, its one row read as an [`Outcome`].
//! Database errors are mapped for the caller's role here, once.

use crate::error::{RestError, RestResult};
use crate::sql::{self, Statement};
use kith_db::tokio_postgres::types::ToSql;
use kith_db::{Access, Caller, CallerTx, Db, DbError};
use serde_json::Value;

/// The one row every statement returns.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The total behind `Content-Range` (reads), or the rows an insert inserted rather than updated.
    pub total: Option<i64>,
    /// Rows in the page, or rows written.
    pub count: i64,
    /// The body, rendered by Postgres.
    pub body: Option<String>,
    /// The primary key of the first row written, for `Location`.
    pub location: Option<Vec<Option<String>>>,
}

impl Outcome {
    /// The answer of a write that had nothing to write.
    pub fn nothing(total: Option<i64>) -> Self {
        Outcome {
            total,
            count: 0,
            body: Some("[]".to_owned()),
            location: None,
        }
    }
}

/// Runs statements as one caller.
pub struct Session<'a> {
    /// The request pool.
    pub db: &'a Db,
    /// Who the statements run as.
    pub caller: &'a Caller,
    /// `statement_timeout` in milliseconds (0: none).
    pub statement_timeout_ms: u64,
    /// The transaction's `search_path`.
    pub search_path: String,
}

impl Session<'_> {
    /// Maps a database error for this caller's role.
    pub fn db_error(&self, err: &DbError) -> RestError {
        RestError::from_db(err, self.caller.role())
    }

    /// Opens the caller's transaction and sets its search path. `BEGIN`, the identity and the search path
    /// travel in one round trip; the request's statement, sent next, is parsed as the caller.
    pub async fn begin(&self, access: Access) -> RestResult<CallerTx> {
        let mut tx = self
            .db
            .begin_as(self.caller, access)
            .await
            .map_err(|err| self.db_error(&err))?
            .with_statement_timeout(self.statement_timeout_ms);
        tx.query(sql::SET_SEARCH_PATH, &[&self.search_path])
            .await
            .map_err(|err| self.db_error(&err))?;
        Ok(tx)
    }

    /// Commits; until then, returning early (dropping the transaction) rolls back.
    pub async fn commit(&self, tx: CallerTx) -> RestResult<()> {
        tx.commit().await.map_err(|err| self.db_error(&err))
    }

    /// Runs `statement` and reads its row: (total, count, body, location).
    pub async fn run(&self, tx: &mut CallerTx, statement: &Statement) -> RestResult<Outcome> {
        let params: Vec<&(dyn ToSql + Sync)> = statement.params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = tx
            .query_uncached(&statement.sql, &params)
            .await
            .map_err(|err| self.db_error(&err))?;
        let row = rows
            .first()
            .ok_or_else(|| RestError::internal(&"the statement returned no row"))?;
        Ok(Outcome {
            total: row.try_get(0).map_err(|err| RestError::internal(&err))?,
            count: row
                .try_get::<_, Option<i64>>(1)
                .map_err(|err| RestError::internal(&err))?
                .unwrap_or(0),
            body: row.try_get(2).map_err(|err| RestError::internal(&err))?,
            location: row.try_get(3).map_err(|err| RestError::internal(&err))?,
        })
    }

    /// Runs an `EXPLAIN (FORMAT JSON)` and reads the planner's row estimate.
    pub async fn estimate(&self, tx: &mut CallerTx, statement: &Statement) -> RestResult<Option<i64>> {
        let params: Vec<&(dyn ToSql + Sync)> = statement.params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = tx
            .query_uncached(&statement.sql, &params)
            .await
            .map_err(|err| self.db_error(&err))?;
        let plan: Option<Value> = rows.first().and_then(|row| row.try_get(0).ok());
        Ok(plan
            .as_ref()
            .and_then(|plan| plan.get(0)?.get("Plan")?.get("Plan Rows")?.as_i64()))
    }
}

//! The database layer's error type.

use tokio_postgres::error::SqlState;

/// A failure talking to Postgres.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had: the server is down, unreachable or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Postgres answered a statement with an error, or the connection broke during it.
    #[error(transparent)]
    Query(tokio_postgres::Error),
    /// A statement expected to return exactly one row returned another number.
    #[error("expected exactly one row, got {0}")]
    RowCount(usize),
}

impl DbError {
    /// The SQLSTATE Postgres reported, if it reported one.
    pub fn sql_state(&self) -> Option<&SqlState> {
        match self {
            DbError::Query(err) => err.code(),
            DbError::Unavailable(_) | DbError::RowCount(_) => None,
        }
    }

    /// The name of the constraint a violation refers to, if any.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            DbError::Query(err) => err.as_db_error().and_then(|db| db.constraint()),
            DbError::Unavailable(_) | DbError::RowCount(_) => None,
        }
    }

    /// The field a check violation is about: its constraint's name without the table prefix and the rule suffix
    /// (constraints are named `<table>_<column>_<rule>`, as Postgres names column checks `<table>_<column>_check`).
    pub fn violated_field(&self) -> Option<&str> {
        let DbError::Query(err) = self else { return None };
        let db = err.as_db_error()?;
        let constraint = db.constraint()?;
        let column = db
            .table()
            .and_then(|table| constraint.strip_prefix(table)?.strip_prefix('_'))
            .unwrap_or(constraint);
        Some(column.rsplit_once('_').map_or(column, |(field, _rule)| field))
    }

    /// Whether the failure is the database being unreachable rather than a statement being refused: no
    /// connection, a closed one, an I/O error, a connection exception (SQLSTATE class 08) or the server shutting
    /// down or starting (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(err) => {
                err.is_closed()
                    || std::error::Error::source(err).is_some_and(|source| source.is::<std::io::Error>())
                    || err.code().is_some_and(|state| {
                        state.code().starts_with("08") || matches!(state.code(), "57P01" | "57P02" | "57P03")
                    })
            }
            DbError::RowCount(_) => false,
        }
    }
}

/// The SQLSTATE class (its first two characters) of a failure, the label of `kith_db_errors_total`:
/// `08` (connection exception) also for a closed connection or an I/O error that carries no SQLSTATE, and
/// `client` for failures on Kith's side of the wire (a value that does not convert, say).
pub fn sqlstate_class(err: &tokio_postgres::Error) -> &str {
    match err.code() {
        Some(state) => state.code().get(..2).unwrap_or("unknown"),
        None if err.is_closed() || std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>()) => "08",
        None => "client",
    }
}

// Every database failure is counted once, where it enters Kith: here.
impl From<tokio_postgres::Error> for DbError {
    fn from(err: tokio_postgres::Error) -> Self {
        metrics::counter!("kith_db_errors_total", "sqlstate_class" => sqlstate_class(&err).to_owned()).increment(1);
        DbError::Query(err)
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::{PoolError, TimeoutType};
        match err {
            PoolError::Backend(err) => DbError::from(err),
            PoolError::Timeout(kind) => {
                metrics::counter!("db_client_connection_timeouts_total").increment(1);
                if matches!(kind, TimeoutType::Create | TimeoutType::Recycle) {
                    // Opening (or checking) a connection did not finish: the server is not answering.
                    metrics::counter!("kith_db_errors_total", "sqlstate_class" => "08").increment(1);
                }
                DbError::Unavailable(PoolError::Timeout(kind).to_string())
            }
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

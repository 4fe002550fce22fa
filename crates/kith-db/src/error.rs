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
    Query(#[from] tokio_postgres::Error),
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

    /// Whether the failure is the database being unreachable rather than a statement being refused.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(err) => {
                err.is_closed() || std::error::Error::source(err).is_some_and(|source| source.is::<std::io::Error>())
            }
            DbError::RowCount(_) => false,
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Backend(err) => DbError::Query(err),
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

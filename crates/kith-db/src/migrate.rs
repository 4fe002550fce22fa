//! Schema migrations: plain numbered SQL files, applied in order, each in its own transaction, recorded with a
//! checksum in `kith.schema_migrations`, under an advisory lock so nodes starting together do not race.
//! A migration edited after it was applied is refused, never re-run.

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, NoTls};

/// One migration file compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The number the file name starts with.
    pub version: i32,
    /// The file name without `.sql`.
    pub name: &'static str,
    /// The SQL it runs.
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal => $file:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $file,
            sql: include_str!(concat!("../migrations/", $file, ".sql")),
        }),*]
    };
}

/// Every migration, in order. Never edit one that has landed: add a new file.
pub const MIGRATIONS: &[Migration] = migrations![
    1 => "0001_roles",
    2 => "0002_auth_schema",
    3 => "0003_private_schema",
    4 => "0004_profiles",
];

/// The version the binary expects the database to be at.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Arbitrary constant shared by every Kith node: the advisory lock taken while migrating.
const MIGRATION_LOCK: i64 = 0x6b69_7468_6d69_6772; // "kithmigr"

/// Why migrating stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The owner connection failed or a statement was refused.
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        /// The migration that failed (0 for the bookkeeping around them).
        version: i32,
        /// Its name.
        name: &'static str,
        /// What Postgres said.
        source: tokio_postgres::Error,
    },
    /// An applied migration's text differs from the binary's.
    #[error("migration {version} ({name}) was edited after it was applied; add a new migration instead")]
    Edited {
        /// The edited migration.
        version: i32,
        /// Its name.
        name: &'static str,
    },
    /// The database has migrations this binary does not know.
    #[error("the database is at migration {0}, newer than this binary knows ({1}); upgrade kith")]
    TooNew(i32, i32),
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bookkeeping(source: tokio_postgres::Error) -> MigrateError {
    MigrateError::Failed {
        version: 0,
        name: "bookkeeping",
        source,
    }
}

/// Connects as the schema owner and applies every pending migration; returns the versions applied.
pub async fn migrate(owner: &tokio_postgres::Config) -> Result<Vec<i32>, MigrateError> {
    let (mut client, connection) = owner.connect(NoTls).await.map_err(bookkeeping)?;
    let driver = tokio::spawn(connection);
    let result = migrate_with(&mut client).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn migrate_with(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    client
        .query("select pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(bookkeeping)?;
    let result = apply_pending(client).await;
    // The lock is session-level: release it even when a migration failed.
    let unlocked = client.query("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    let applied = result?;
    unlocked.map_err(bookkeeping)?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    client
        .batch_execute(
            "create schema if not exists kith;
             revoke all on schema kith from public;
             create table if not exists kith.schema_migrations (
               version integer primary key,
               name text not null,
               checksum text not null,
               applied_at timestamptz not null default now()
             );",
        )
        .await
        .map_err(bookkeeping)?;
    let applied: Vec<(i32, String)> = client
        .query(
            "select version, checksum from kith.schema_migrations order by version",
            &[],
        )
        .await
        .map_err(bookkeeping)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    if let Some((newest, _)) = applied.last()
        && *newest > latest_version()
    {
        return Err(MigrateError::TooNew(*newest, latest_version()));
    }

    let mut newly_applied = Vec::new();
    for migration in MIGRATIONS {
        let sum = checksum(migration.sql);
        if let Some((_, recorded)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if *recorded != sum {
                return Err(MigrateError::Edited {
                    version: migration.version,
                    name: migration.name,
                });
            }
            continue;
        }
        let failed = |source| MigrateError::Failed {
            version: migration.version,
            name: migration.name,
            source,
        };
        let tx = client.transaction().await.map_err(failed)?;
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        tx.execute(
            "insert into kith.schema_migrations (version, name, checksum) values ($1, $2, $3)",
            &[&migration.version, &migration.name, &sum],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(version = migration.version, name = migration.name, "applied migration");
        newly_applied.push(migration.version);
    }
    Ok(newly_applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_match_the_folder() {
        for (index, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, index + 1, "migration {} is out of sequence", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{} must start with its number",
                m.name
            );
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let files = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or_default();
        assert_eq!(
            files,
            MIGRATIONS.len(),
            "every file in migrations/ must be listed in MIGRATIONS"
        );
    }
}

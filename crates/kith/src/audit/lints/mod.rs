//! The static lints: each is one SQL query over the catalogs returning `(object, detail)` rows, one per problem.
//!
//! Every query runs after a `params` CTE holding `exposed` (the data API's schemas, `text[]`), `tenant_key` (the
//! tenant column, `text`) and `authenticator` (the pool's login role, `text`); a query that needs CTEs of its own
//! starts with `, name as (…)`.

/// Tables (plain and partitioned) in the exposed schemas, with `is_tenant` when they carry the tenant key.
macro_rules! exposed_tables {
    () => {
        "(select c.oid, n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity,
                 exists (select 1 from pg_attribute a where a.attrelid = c.oid
                         and a.attname = (select tenant_key from params) and a.attnum > 0 and not a.attisdropped)
                   as is_tenant
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any((select exposed from params)::text[]))"
    };
}

/// Schemas no lint looks into.
macro_rules! system_schemas {
    () => {
        "('pg_catalog', 'information_schema', 'pg_toast')"
    };
}

mod functions;
mod grants;
mod rls;
mod schema;
mod views;

use super::{Finding, Level, Options};
use kith_db::tokio_postgres::Client;

/// One lint.
#[derive(Debug)]
pub struct Lint {
    /// Stable name (splinter's where one exists).
    pub name: &'static str,
    /// How bad a finding is.
    pub level: Level,
    /// One line about it.
    pub title: &'static str,
    /// How to fix it.
    pub remediation: &'static str,
    /// Returns `(object text, detail text)` rows.
    pub sql: &'static str,
}

/// Every lint, by family.
pub const ALL: &[&Lint] = &[
    &rls::RLS_DISABLED,
    &rls::TENANT_RLS_NOT_FORCED,
    &rls::RLS_NOT_FORCED,
    &rls::POLICY_EXISTS_RLS_DISABLED,
    &rls::RLS_ENABLED_NO_POLICY,
    &rls::ALWAYS_TRUE_WRITE,
    &rls::AUTH_RLS_INITPLAN,
    &rls::POLICY_COLUMN_UNINDEXED,
    &rls::MULTIPLE_PERMISSIVE,
    &rls::USER_METADATA,
    &rls::UID_IS_NULL_OR,
    &functions::SECURITY_DEFINER_SEARCH_PATH,
    &functions::SEARCH_PATH_MUTABLE,
    &functions::SECURITY_DEFINER_ANON,
    &functions::SECURITY_DEFINER_AUTHENTICATED,
    &views::SECURITY_DEFINER_VIEW,
    &views::AUTH_USERS_EXPOSED,
    &schema::NO_PRIMARY_KEY,
    &schema::UNINDEXED_FOREIGN_KEYS,
    &schema::DUPLICATE_INDEX,
    &schema::EXTENSION_IN_PUBLIC,
    &grants::ANON_WRITES_TENANT_TABLE,
    &grants::ANON_READS_TENANT_TABLE,
    &grants::ANON_SELECT_GRANT_TENANT_TABLE,
    &grants::AUTHENTICATOR_PRIVILEGES,
];

const PARAMS: &str =
    "with params as (select $1::text[] as exposed, $2::text as tenant_key, $3::text as authenticator) ";

/// Runs every lint in [`ALL`].
pub async fn run_all(client: &Client, options: &Options) -> anyhow::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for lint in ALL {
        findings.extend(run(client, lint, options).await?);
    }
    Ok(findings)
}

/// Runs one lint.
pub async fn run(client: &Client, lint: &Lint, options: &Options) -> anyhow::Result<Vec<Finding>> {
    use anyhow::Context;
    let sql = format!("{PARAMS}{}", lint.sql);
    let rows = client
        .query(
            &sql,
            &[&options.exposed_schemas, &options.tenant_key, &options.authenticator],
        )
        .await
        .with_context(|| format!("lint {} failed", lint.name))?;
    Ok(rows
        .iter()
        .map(|row| Finding {
            name: lint.name,
            level: lint.level,
            title: lint.title,
            object: row.get(0),
            detail: row.get(1),
            remediation: lint.remediation,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_names_are_unique_and_snake_case() {
        let mut names: Vec<_> = ALL.iter().map(|l| l.name).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}

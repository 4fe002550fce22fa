//! `kith audit`: checks a database for the mistakes that leak or lock out tenant data, before a deploy.
//!
//! Two parts: static lints, plain SQL over the catalogs in the spirit of Supabase's splinter (one module per family
//! under [`lints`]), and a live [`probe`] that writes as two throwaway tenants inside a transaction it rolls back
//! and proves neither sees nor changes the other's rows. Any ERROR finding makes the command exit non-zero.

pub mod lints;
pub mod probe;

use kith_db::tokio_postgres::Client;
use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Worth knowing (a missing index, say).
    Info,
    /// Likely a mistake; does not fail the audit.
    Warn,
    /// Leaks or exposes data, or breaks Kith's security model: fails the audit.
    Error,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        })
    }
}

/// One problem on one object.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The lint's stable name, e.g. `rls_disabled_in_exposed_schema`.
    pub name: &'static str,
    /// How bad it is.
    pub level: Level,
    /// One line about the lint.
    pub title: &'static str,
    /// The object, e.g. `public.contacts` or `public.contacts.org_id`.
    pub object: String,
    /// What exactly is wrong with it.
    pub detail: String,
    /// How to fix it.
    pub remediation: &'static str,
}

/// What the audit looks at.
#[derive(Debug, Clone)]
pub struct Options {
    /// Schemas the data API exposes (`KITH_REST_SCHEMAS`).
    pub exposed_schemas: Vec<String>,
    /// The tenant key column; a table with it is a tenant table.
    pub tenant_key: String,
    /// The request pool's login role.
    pub authenticator: String,
    /// Run the live probe too.
    pub probe: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            exposed_schemas: vec!["public".to_owned()],
            tenant_key: "org_id".to_owned(),
            authenticator: kith_db::AUTHENTICATOR_ROLE.to_owned(),
            probe: true,
        }
    }
}

/// The findings of one audit, most severe first.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// ERROR findings.
    pub errors: usize,
    /// WARN findings.
    pub warnings: usize,
    /// Lints run (the probe counts as one).
    pub checks: usize,
    /// Every finding.
    pub findings: Vec<Finding>,
}

/// Runs every lint, then the probe, on the database `client` is connected to (as the schema owner).
pub async fn run(client: &mut Client, options: &Options) -> anyhow::Result<Report> {
    let mut findings = lints::run_all(client, options).await?;
    let mut checks = lints::ALL.len();
    if options.probe {
        findings.extend(probe::run(client, options).await?);
        checks += 1;
    }
    findings.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.name.cmp(b.name))
            .then(a.object.cmp(&b.object))
    });
    Ok(Report {
        errors: findings.iter().filter(|f| f.level == Level::Error).count(),
        warnings: findings.iter().filter(|f| f.level == Level::Warn).count(),
        checks,
        findings,
    })
}

/// Output format of `kith audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable lines.
    Human,
    /// One JSON document.
    Json,
}

/// `kith audit`: connects as the schema owner, prints the report, and fails when it holds an ERROR.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub async fn command(owner: &kith_db::tls::PgTarget, options: &Options, format: Format) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut client = owner
        .connect()
        .await
        .context("cannot connect to the database to audit")?;
    let report = run(&mut client, options).await;
    drop(client);
    let report = report?;
    match format {
        Format::Human => print!("{}", report.human()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if report.errors > 0 {
        anyhow::bail!("the audit found {} ERROR findings", report.errors);
    }
    Ok(())
}

impl Report {
    /// The report for a person: one block per finding, then a summary line.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!(
                "{:<5} {}  {}\n      {}\n",
                f.level, f.name, f.object, f.detail
            ));
            if !f.remediation.is_empty() {
                out.push_str(&format!("      fix: {}\n", f.remediation));
            }
        }
        out.push_str(&format!(
            "kith audit: {} checks, {} errors, {} warnings, {} notes\n",
            self.checks,
            self.errors,
            self.warnings,
            self.findings.len() - self.errors - self.warnings
        ));
        out
    }
}

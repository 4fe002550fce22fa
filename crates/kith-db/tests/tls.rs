//! TLS to PostgreSQL: every `sslmode` against the test cluster, which `scripts/test` starts serving TLS with a
//! throwaway certificate authority (`scripts/lib/postgres.sh`, `make_test_certificates`): the server's
//! certificate names `localhost` only, and a second, unrelated authority is at hand to be the wrong one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use kith_db::tls::{PgTarget, SslMode};
use std::path::PathBuf;

struct Cluster {
    /// `postgres://postgres@127.0.0.1:<port>/postgres`
    url: String,
    ca: PathBuf,
    other_ca: PathBuf,
}

impl Cluster {
    fn from_env() -> Option<Cluster> {
        let url = std::env::var("KITH_TEST_DATABASE_URL").ok()?;
        let ca = std::env::var_os("KITH_TEST_DB_CA_FILE")?.into();
        let other_ca = std::env::var_os("KITH_TEST_DB_OTHER_CA_FILE")?.into();
        Some(Cluster { url, ca, other_ca })
    }

    /// The cluster's URL with `params` added, and `localhost` instead of the IP address when `by_name`.
    fn url(&self, by_name: bool, params: &str) -> String {
        let url = if by_name {
            self.url.replace("127.0.0.1", "localhost")
        } else {
            self.url.clone()
        };
        if params.is_empty() {
            url
        } else {
            format!("{url}?{params}")
        }
    }
}

/// Connects with `url` and answers whether the session is encrypted, or the connection error's text.
async fn encrypted(url: &str) -> Result<bool, String> {
    let target = PgTarget::parse(url, None).map_err(|err| err.to_string())?;
    let client = target.connect().await.map_err(|err| format!("{err}: {:?}", err))?;
    let row = client
        .query_one("select ssl from pg_stat_ssl where pid = pg_backend_pid()", &[])
        .await
        .map_err(|err| err.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn each_sslmode_protects_the_connection_as_libpq_does() {
    let Some(cluster) = Cluster::from_env() else {
        eprintln!("skipped: KITH_TEST_DB_CA_FILE is not set (scripts/test starts a TLS cluster and sets it)");
        return;
    };
    let ca = cluster.ca.display().to_string();
    let other = cluster.other_ca.display().to_string();

    assert_eq!(encrypted(&cluster.url(false, "sslmode=disable")).await, Ok(false));
    // libpq's default, `prefer`: encrypted because the server offers it.
    assert_eq!(encrypted(&cluster.url(false, "")).await, Ok(true));
    // `require` checks nothing about the server...
    assert_eq!(encrypted(&cluster.url(false, "sslmode=require")).await, Ok(true));
    // ...unless a root certificate is named: then it checks the chain, as libpq does.
    let wrong = encrypted(&cluster.url(false, &format!("sslmode=require&sslrootcert={other}"))).await;
    assert!(matches!(&wrong, Err(e) if e.contains("UnknownIssuer")), "{wrong:?}");

    // verify-ca: the chain, not the name (the certificate names localhost; we connect to 127.0.0.1).
    assert_eq!(
        encrypted(&cluster.url(false, &format!("sslmode=verify-ca&sslrootcert={ca}"))).await,
        Ok(true)
    );
    let wrong = encrypted(&cluster.url(false, &format!("sslmode=verify-ca&sslrootcert={other}"))).await;
    assert!(matches!(&wrong, Err(e) if e.contains("UnknownIssuer")), "{wrong:?}");

    // verify-full: the chain and the name.
    assert_eq!(
        encrypted(&cluster.url(true, &format!("sslmode=verify-full&sslrootcert={ca}"))).await,
        Ok(true)
    );
    let by_ip = encrypted(&cluster.url(false, &format!("sslmode=verify-full&sslrootcert={ca}"))).await;
    assert!(matches!(&by_ip, Err(e) if e.contains("NotValidForName")), "{by_ip:?}");
    let wrong = encrypted(&cluster.url(true, &format!("sslmode=verify-full&sslrootcert={other}"))).await;
    assert!(matches!(&wrong, Err(e) if e.contains("UnknownIssuer")), "{wrong:?}");
}

#[tokio::test]
async fn the_ca_file_setting_is_used_when_the_url_names_none() {
    let Some(cluster) = Cluster::from_env() else {
        eprintln!("skipped: KITH_TEST_DB_CA_FILE is not set (scripts/test starts a TLS cluster and sets it)");
        return;
    };
    let url = cluster.url(true, "sslmode=verify-full");
    let target = PgTarget::parse(&url, Some(&cluster.ca)).unwrap();
    assert_eq!(target.tls.mode(), SslMode::VerifyFull);
    target.connect().await.unwrap();
    // The URL's own sslrootcert wins over the setting.
    let url = cluster.url(
        true,
        &format!("sslmode=verify-full&sslrootcert={}", cluster.other_ca.display()),
    );
    let target = PgTarget::parse(&url, Some(&cluster.ca)).unwrap();
    assert!(target.connect().await.is_err());
}

#[tokio::test]
async fn the_request_pool_speaks_tls_when_asked() {
    let Some(cluster) = Cluster::from_env() else {
        eprintln!("skipped: KITH_TEST_DB_CA_FILE is not set (scripts/test starts a TLS cluster and sets it)");
        return;
    };
    let url = cluster.url(
        true,
        &format!("sslmode=verify-full&sslrootcert={}", cluster.ca.display()),
    );
    let db = kith_db::Db::connect(PgTarget::parse(&url, None).unwrap(), 2).unwrap();
    let stats = db.schema_version().await;
    // The test cluster's `postgres` database may not be migrated; what matters is the connection and its TLS.
    if let Err(err) = &stats {
        assert!(!err.to_string().contains("TLS"), "{err}");
    }
    let wrong = url.replace(
        &cluster.ca.display().to_string(),
        &cluster.other_ca.display().to_string(),
    );
    let db = kith_db::Db::connect(PgTarget::parse(&wrong, None).unwrap(), 2).unwrap();
    assert!(db.schema_version().await.is_err());
}

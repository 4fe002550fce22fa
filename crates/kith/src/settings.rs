//! Validated settings. Each value comes from a flag, else the environment, else the config file, else its
//! default; an invalid one stops start-up with one line naming the setting and the problem.

use crate::cli::{AuthArgs, SettingArgs};
use axum::http::HeaderValue;
use kith_auth::config::AuthSettings;
use kith_db::identity::MIN_SECRET_LEN;
use kith_db::tls::PgTarget;
use kith_db::tokio_postgres::Config as PgConfig;
use kith_http::middleware::HttpSettings;
use kith_rest::RestConfig;
use secrecy::SecretString;
use serde::Deserialize;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A setting that cannot be used, named as the operator sets it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {problem}")]
pub struct SettingError {
    /// Environment name of the setting, e.g. `KITH_BIND`.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

fn invalid(name: &'static str, problem: impl Into<String>) -> SettingError {
    SettingError {
        name,
        problem: problem.into(),
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum Database {
    /// A private cluster Kith runs inside the data directory.
    Embedded,
    /// An existing server: the schema owner's connection and the request pool's.
    External {
        /// Runs migrations.
        owner: Box<PgTarget>,
        /// Logs in as `kith_authenticator`.
        pool: Box<PgTarget>,
    },
}

/// Every setting, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub bind: SocketAddr,
    /// Address of the admin listener (`/metrics`, `/health`, `/ready`); `None` when turned off.
    pub admin_bind: Option<SocketAddr>,
    /// Embedded or external database.
    pub database: Database,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The JWT secret if given; otherwise it is read from (or generated in) the data directory.
    jwt_secret: Option<SecretString>,
    /// Public URL of the server.
    pub site_url: url::Url,
    /// Log format.
    pub log_format: LogFormat,
    /// Middleware settings.
    pub http: HttpSettings,
    /// Request pool size.
    pub pool_size: usize,
    /// How long a request waits for a pooled connection.
    pub pool_wait: Duration,
    /// Timeouts and the connection cap of the public listener.
    pub limits: crate::server::Limits,
    /// The auth service.
    pub auth: AuthSettings,
    /// The data API.
    pub rest: RestConfig,
    /// Where the Storage API keeps its files.
    pub storage_dir: PathBuf,
    /// Largest file the Storage API accepts, in bytes.
    pub storage_max_file_size: u64,
    /// Choices made for the operator, logged once logging is set up.
    pub notices: Vec<String>,
}

impl std::fmt::Debug for FileSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSettings").finish_non_exhaustive()
    }
}

/// The data directory for root when the default one is out of the PostgreSQL user's reach.
const ROOT_DATA_DIR: &str = "/var/lib/kith";

/// The optional config file: the same settings, in snake_case. It holds secrets as read, so its `Debug` shows
/// nothing.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    admin_bind: Option<String>,
    database_url: Option<String>,
    pool_url: Option<String>,
    db_ca_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    jwt_secret: Option<String>,
    site_url: Option<String>,
    log_format: Option<String>,
    cors_origins: Option<String>,
    pool_size: Option<u32>,
    header_timeout: Option<u32>,
    body_timeout: Option<u32>,
    max_connections: Option<u32>,
    pool_wait_ms: Option<u32>,
    auth_autoconfirm: Option<bool>,
    auth_disable_signup: Option<bool>,
    auth_anonymous: Option<bool>,
    auth_min_password_length: Option<u32>,
    auth_rate_limit_ip: Option<u32>,
    auth_rate_limit_email: Option<u32>,
    auth_rate_limit_window: Option<u32>,
    auth_refresh_reuse_interval: Option<u32>,
    auth_allow_plain_pkce: Option<bool>,
    auth_redirect_urls: Option<String>,
    jwt_exp: Option<u32>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    mfa_encryption_key: Option<String>,
    rest_schemas: Option<String>,
    rest_extra_search_path: Option<String>,
    rest_max_rows: Option<u32>,
    rest_statement_timeout_ms: Option<u32>,
    web_session_idle_timeout: Option<u32>,
    web_session_absolute_timeout: Option<u32>,
    storage_dir: Option<PathBuf>,
    storage_max_file_size: Option<u64>,
}

impl Settings {
    /// Merges flags and environment (already merged by clap) over the config file and defaults, and validates.
    pub fn resolve(args: &SettingArgs) -> Result<Self, SettingError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let pick = |arg: &Option<String>, file: &Option<String>| arg.clone().or_else(|| file.clone());

        let bind_text = pick(&args.bind, &file.bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = SocketAddr::from_str(&bind_text).map_err(|_| {
            invalid(
                "KITH_BIND",
                format!("{bind_text:?} is not a socket address such as 127.0.0.1:8080"),
            )
        })?;

        let admin_text = pick(&args.admin_bind, &file.admin_bind).unwrap_or_else(|| "127.0.0.1:9187".into());
        let admin_bind = match admin_text.trim() {
            "off" => None,
            text => Some(SocketAddr::from_str(text).map_err(|_| {
                invalid(
                    "KITH_ADMIN_BIND",
                    format!("{admin_text:?} is neither a socket address such as 127.0.0.1:9187 nor `off`"),
                )
            })?),
        };
        if admin_bind.is_some_and(|admin| admin == bind && admin.port() != 0) {
            return Err(invalid(
                "KITH_ADMIN_BIND",
                "must differ from KITH_BIND: metrics never go on the public port",
            ));
        }

        let database = match pick(&args.database_url, &file.database_url) {
            None => Database::Embedded,
            Some(url) => {
                let ca_file = args.db_ca_file.clone().or_else(|| file.db_ca_file.clone());
                let owner = PgTarget::parse(&url, ca_file.as_deref())
                    .map_err(|err| invalid("DATABASE_URL", err.to_string()))?;
                let pool = match pick(&args.pool_url, &file.pool_url) {
                    Some(url) => PgTarget::parse(&url, ca_file.as_deref())
                        .map_err(|err| invalid("KITH_POOL_URL", err.to_string()))?,
                    // The same server, so the same protection.
                    None => PgTarget {
                        config: authenticator_config(&owner.config),
                        tls: owner.tls.clone(),
                    },
                };
                Database::External {
                    owner: Box::new(owner),
                    pool: Box::new(pool),
                }
            }
        };

        let mut notices = Vec::new();
        let data_dir = match args.data_dir.clone().or_else(|| file.data_dir.clone()) {
            Some(dir) => dir,
            // The default must work as written even for root in a private home (/root is mode 0700), where the
            // unprivileged user running the embedded PostgreSQL cannot enter ./kith-data.
            None if matches!(database, Database::Embedded) => {
                let default = PathBuf::from("./kith-data");
                let chosen = crate::embedded::reachable_data_dir(&default, Path::new(ROOT_DATA_DIR));
                if chosen != default {
                    notices.push(format!(
                        "KITH_DATA_DIR is not set and ./kith-data is out of reach of the PostgreSQL user; using {ROOT_DATA_DIR}"
                    ));
                }
                chosen
            }
            None => PathBuf::from("./kith-data"),
        };
        if data_dir.as_os_str().is_empty() {
            return Err(invalid("KITH_DATA_DIR", "must not be empty"));
        }

        let jwt_secret = pick(&args.jwt_secret, &file.jwt_secret);
        if let Some(secret) = &jwt_secret {
            check_secret(secret).map_err(|problem| invalid("KITH_JWT_SECRET", problem))?;
        }

        let site_text = pick(&args.site_url, &file.site_url).unwrap_or_else(|| format!("http://{bind}"));
        let site_url = url::Url::parse(&site_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| invalid("KITH_SITE_URL", format!("{site_text:?} is not an absolute http(s) URL")))?;

        let log_format = match pick(&args.log_format, &file.log_format).as_deref() {
            None if std::io::stderr().is_terminal() => LogFormat::Pretty,
            None | Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(invalid(
                    "KITH_LOG_FORMAT",
                    format!("{other:?} is neither `json` nor `pretty`"),
                ));
            }
        };

        let cors_origins = match pick(&args.cors_origins, &file.cors_origins).as_deref().map(str::trim) {
            None | Some("*") => None,
            Some(list) => Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|origin| {
                        url::Url::parse(origin)
                            .ok()
                            .filter(|u| u.host().is_some())
                            .and_then(|_| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
                            .ok_or_else(|| {
                                invalid(
                                    "KITH_CORS_ORIGINS",
                                    format!("{origin:?} is not an origin such as https://app.example.com"),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };

        let pool_size = match args.pool_size.clone().or(file.pool_size.map(|n| n.to_string())) {
            None => 16,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| invalid("KITH_POOL_SIZE", format!("{text:?} is not a number from 1 to 1000")))?,
        };

        let number = |arg: &Option<String>, file: Option<u32>| arg.clone().or(file.map(|n| n.to_string()));
        let mut limits = crate::server::Limits::default();
        if let Some(v) = number(&args.header_timeout, file.header_timeout) {
            limits.header_timeout = Duration::from_secs(parse_number("KITH_HEADER_TIMEOUT", &v, 1, 3600)?.into());
        }
        if let Some(v) = number(&args.body_timeout, file.body_timeout) {
            limits.body_timeout = Duration::from_secs(parse_number("KITH_BODY_TIMEOUT", &v, 1, 3600)?.into());
        }
        if let Some(v) = number(&args.max_connections, file.max_connections) {
            limits.max_connections = parse_number("KITH_MAX_CONNECTIONS", &v, 1, 1_000_000)? as usize;
        }
        let pool_wait = match number(&args.pool_wait_ms, file.pool_wait_ms) {
            Some(v) => Duration::from_millis(parse_number("KITH_POOL_WAIT_MS", &v, 1, 60_000)?.into()),
            None => Duration::from_secs(5),
        };

        let auth = auth_settings(&args.auth, &file, site_url.clone(), &data_dir)?;

        let mut rest = RestConfig::default();
        if let Some(list) = pick(&args.rest_extra_search_path, &file.rest_extra_search_path) {
            rest.extra_search_path = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(list) = pick(&args.rest_schemas, &file.rest_schemas) {
            let schemas: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            // Internal and system schemas would hand callers Kith's own tables or functions such as set_config.
            let internal = |s: &String| {
                let s = s.to_ascii_lowercase();
                matches!(
                    s.as_str(),
                    "auth" | "private" | "kith" | "storage" | "information_schema" | "extensions"
                ) || s.starts_with("pg_")
            };
            if schemas.is_empty() || schemas.iter().any(internal) {
                return Err(invalid(
                    "KITH_REST_SCHEMAS",
                    "must name at least one schema, and never auth, private, kith, storage, extensions or a system schema",
                ));
            }
            rest.schemas = schemas;
        }
        if let Some(v) = pick(&args.rest_max_rows, &file.rest_max_rows.map(|n| n.to_string())) {
            rest.max_rows = parse_number("KITH_REST_MAX_ROWS", &v, 1, 1_000_000)?.into();
        }
        if let Some(v) = pick(
            &args.rest_statement_timeout_ms,
            &file.rest_statement_timeout_ms.map(|n| n.to_string()),
        ) {
            rest.statement_timeout_ms = parse_number("KITH_REST_STATEMENT_TIMEOUT_MS", &v, 0, 3_600_000)?.into();
        }

        let storage_dir = args
            .storage_dir
            .clone()
            .or_else(|| file.storage_dir.clone())
            .unwrap_or_else(|| data_dir.join("storage"));
        let storage_max_file_size = match pick(
            &args.storage_max_file_size,
            &file.storage_max_file_size.map(|n| n.to_string()),
        ) {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1 << 40).contains(n))
                .ok_or_else(|| invalid("KITH_STORAGE_MAX_FILE_SIZE", "must be a number of bytes from 1 to 2^40"))?,
            None => 50 * 1024 * 1024,
        };

        Ok(Settings {
            notices,
            rest,
            storage_dir,
            storage_max_file_size,
            auth,
            bind,
            admin_bind,
            database,
            data_dir,
            jwt_secret: jwt_secret.map(SecretString::from),
            site_url,
            log_format,
            http: HttpSettings {
                cors_origins,
                ..HttpSettings::default()
            },
            pool_size,
            pool_wait,
            limits,
        })
    }

    /// The JWT secret: the configured one, else the one kept in the data directory (generated on first use,
    /// readable by its owner only).
    pub fn jwt_secret(&self) -> Result<SecretString, SettingError> {
        if let Some(secret) = &self.jwt_secret {
            return Ok(secret.clone());
        }
        let path = self.data_dir.join("jwt-secret");
        match std::fs::read_to_string(&path) {
            Ok(secret) => {
                let secret = secret.trim().to_owned();
                check_secret(&secret)
                    .map_err(|problem| invalid("KITH_JWT_SECRET", format!("{}: {problem}", path.display())))?;
                Ok(secret.into())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => generate_secret(&path).map(SecretString::from),
            Err(err) => Err(invalid(
                "KITH_JWT_SECRET",
                format!("cannot read {}: {err}", path.display()),
            )),
        }
    }
}

fn auth_settings(
    args: &AuthArgs,
    file: &FileSettings,
    site_url: url::Url,
    data_dir: &Path,
) -> Result<AuthSettings, SettingError> {
    let text = |arg: &Option<String>, file: Option<String>| arg.clone().or(file);
    let mut auth = AuthSettings::new(site_url, data_dir);
    if let Some(v) = text(&args.auth_autoconfirm, file.auth_autoconfirm.map(|b| b.to_string())) {
        auth.autoconfirm = parse_bool("KITH_AUTH_AUTOCONFIRM", &v)?;
    }
    if let Some(v) = text(
        &args.auth_disable_signup,
        file.auth_disable_signup.map(|b| b.to_string()),
    ) {
        auth.disable_signup = parse_bool("KITH_AUTH_DISABLE_SIGNUP", &v)?;
    }
    if let Some(v) = text(&args.auth_anonymous, file.auth_anonymous.map(|b| b.to_string())) {
        auth.anonymous = parse_bool("KITH_AUTH_ANONYMOUS", &v)?;
    }
    if let Some(v) = text(
        &args.auth_allow_plain_pkce,
        file.auth_allow_plain_pkce.map(|b| b.to_string()),
    ) {
        auth.allow_plain_pkce = parse_bool("KITH_AUTH_ALLOW_PLAIN_PKCE", &v)?;
    }
    if let Some(v) = text(
        &args.auth_min_password_length,
        file.auth_min_password_length.map(|n| n.to_string()),
    ) {
        auth.min_password_length = parse_number("KITH_AUTH_MIN_PASSWORD_LENGTH", &v, 6, 1024)? as usize;
    }
    if let Some(v) = text(&args.auth_rate_limit_ip, file.auth_rate_limit_ip.map(|n| n.to_string())) {
        auth.rate_limits.per_ip = parse_number("KITH_AUTH_RATE_LIMIT_IP", &v, 1, 1_000_000)?;
    }
    if let Some(v) = text(
        &args.auth_rate_limit_email,
        file.auth_rate_limit_email.map(|n| n.to_string()),
    ) {
        auth.rate_limits.per_email = parse_number("KITH_AUTH_RATE_LIMIT_EMAIL", &v, 1, 1_000_000)?;
    }
    if let Some(v) = text(
        &args.auth_rate_limit_window,
        file.auth_rate_limit_window.map(|n| n.to_string()),
    ) {
        auth.rate_limits.window =
            Duration::from_secs(parse_number("KITH_AUTH_RATE_LIMIT_WINDOW", &v, 1, 86_400)?.into());
    }
    if let Some(v) = text(
        &args.auth_refresh_reuse_interval,
        file.auth_refresh_reuse_interval.map(|n| n.to_string()),
    ) {
        auth.refresh_reuse_interval =
            Duration::from_secs(parse_number("KITH_AUTH_REFRESH_REUSE_INTERVAL", &v, 0, 3600)?.into());
    }
    if let Some(v) = text(&args.jwt_exp, file.jwt_exp.map(|n| n.to_string())) {
        auth.jwt_exp = parse_number("KITH_JWT_EXP", &v, 30, 604_800)?.into();
    }
    if let Some(list) = text(&args.auth_redirect_urls, file.auth_redirect_urls.clone()) {
        auth.redirect_urls = list
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                url::Url::parse(u)
                    .map_err(|_| invalid("KITH_AUTH_REDIRECT_URLS", format!("{u:?} is not an absolute URL")))
            })
            .collect::<Result<_, _>>()?;
    }
    let smtp_url = text(&args.smtp_url, file.smtp_url.clone());
    if let Some(url) = &smtp_url
        && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
    {
        return Err(invalid("KITH_SMTP_URL", "must start with smtp:// or smtps://"));
    }
    auth.smtp_url = smtp_url.map(SecretString::from);
    if let Some(from) = text(&args.smtp_from, file.smtp_from.clone()) {
        auth.mail_from = from;
    }
    if let Some(v) = text(
        &args.web_session_idle_timeout,
        file.web_session_idle_timeout.map(|n| n.to_string()),
    ) {
        auth.browser_idle_timeout =
            Duration::from_secs(parse_number("KITH_WEB_SESSION_IDLE_TIMEOUT", &v, 60, 31_536_000)?.into());
    }
    if let Some(v) = text(
        &args.web_session_absolute_timeout,
        file.web_session_absolute_timeout.map(|n| n.to_string()),
    ) {
        auth.browser_absolute_timeout =
            Duration::from_secs(parse_number("KITH_WEB_SESSION_ABSOLUTE_TIMEOUT", &v, 60, 31_536_000)?.into());
    }
    if auth.browser_idle_timeout > auth.browser_absolute_timeout {
        return Err(invalid(
            "KITH_WEB_SESSION_IDLE_TIMEOUT",
            "must not be longer than KITH_WEB_SESSION_ABSOLUTE_TIMEOUT",
        ));
    }
    if let Some(key) = text(&args.mfa_encryption_key, file.mfa_encryption_key.clone()) {
        check_secret(&key).map_err(|problem| invalid("KITH_MFA_ENCRYPTION_KEY", problem))?;
        auth.mfa_encryption_key = Some(key.into());
    }
    Ok(auth)
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, SettingError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(name, format!("{value:?} is neither true nor false"))),
    }
}

fn parse_number(name: &'static str, value: &str, min: u32, max: u32) -> Result<u32, SettingError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(name, format!("{value:?} is not a number from {min} to {max}")))
}

fn read_file(path: &Path) -> Result<FileSettings, SettingError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| invalid("KITH_CONFIG", format!("cannot read {}: {err}", path.display())))?;
    toml::from_str(&text).map_err(|err| {
        let reason = err.message().to_owned();
        invalid("KITH_CONFIG", format!("{}: {reason}", path.display()))
    })
}

fn check_secret(secret: &str) -> Result<(), String> {
    let length = secret.chars().count();
    if length < MIN_SECRET_LEN {
        return Err(format!("must be at least {MIN_SECRET_LEN} characters (got {length})"));
    }
    Ok(())
}

fn generate_secret(path: &Path) -> Result<String, SettingError> {
    let fail = |err: std::io::Error| invalid("KITH_JWT_SECRET", format!("cannot create {}: {err}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    // 48 random bytes, hex-encoded: 96 characters, 384 bits.
    let secret: String = rand::random::<[u8; 48]>().iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(secret.as_bytes()).map_err(fail)?;
    tracing::info!(path = %path.display(), "generated a new JWT secret");
    Ok(secret)
}

/// The request pool's login: the owner's server and database, as `kith_authenticator`, without the owner's
/// password.
fn authenticator_config(owner: &PgConfig) -> PgConfig {
    let mut pool = PgConfig::new();
    for host in owner.get_hosts() {
        match host {
            kith_db::tokio_postgres::config::Host::Tcp(name) => pool.host(name),
            kith_db::tokio_postgres::config::Host::Unix(path) => pool.host_path(path),
        };
    }
    for port in owner.get_ports() {
        pool.port(*port);
    }
    if let Some(db) = owner.get_dbname() {
        pool.dbname(db);
    }
    pool.ssl_mode(owner.get_ssl_mode())
        .user(kith_db::AUTHENTICATOR_ROLE)
        .application_name("kith");
    pool
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let jwt = "a-jwt-secret-that-is-long-enough-0123456789";
        let mfa = "an-mfa-key-that-is-long-enough-0123456789ab";
        let mut args = SettingArgs {
            jwt_secret: Some(jwt.into()),
            data_dir: Some(std::env::temp_dir().join("kith-settings-test")),
            ..SettingArgs::default()
        };
        args.auth.smtp_url = Some("smtps://mailer:hunter2-password@smtp.example.com:465".into());
        args.auth.mfa_encryption_key = Some(mfa.into());
        let settings = Settings::resolve(&args).unwrap();
        assert!(settings.auth.smtp_url.is_some() && settings.auth.mfa_encryption_key.is_some());
        for printed in [
            format!("{settings:?}"),
            format!("{args:?}"),
            format!("{:?}", settings.auth),
        ] {
            for secret in [jwt, mfa, "hunter2-password"] {
                assert!(!printed.contains(secret), "{secret} in {printed}");
            }
        }
    }
}

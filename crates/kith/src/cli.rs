//! The command line. Every setting can also come from the environment or the config file (flag > environment
//! > file > default); `settings` validates them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Kith: a multi-tenant CRM server where every request runs as its caller under Postgres row-level security.
#[derive(Debug, Parser)]
#[command(name = "kith", version, about, propagate_version = true)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: SettingArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings as given on the command line or in the environment, before validation. They include secrets (the
/// JWT secret, the SMTP URL, the MFA key), so `Debug` shows none of them.
#[derive(Default, Args)]
pub struct SettingArgs {
    /// TOML file with any of the settings below (keys in snake_case, e.g. `bind = "0.0.0.0:8080"`).
    #[arg(long, env = "KITH_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "KITH_BIND", global = true)]
    pub bind: Option<String>,
    /// Address of the admin listener (/metrics, /health, /ready), or `off` [default: 127.0.0.1:9187].
    #[arg(long, env = "KITH_ADMIN_BIND", global = true)]
    pub admin_bind: Option<String>,
    /// Postgres URL of the schema owner (runs migrations). Without it Kith runs its own embedded Postgres.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Postgres URL the request pool logs in with (role kith_authenticator) [default: DATABASE_URL with that user].
    #[arg(long, env = "KITH_POOL_URL", global = true, hide_env_values = true)]
    pub pool_url: Option<String>,
    /// PEM file of the certificate authorities that `sslmode=verify-ca|verify-full` trust when the URL names no
    /// `sslrootcert` [default: the system's roots].
    #[arg(long, env = "KITH_DB_CA_FILE", global = true)]
    pub db_ca_file: Option<PathBuf>,
    /// Directory for the embedded Postgres, the generated JWT secret and the mail outbox [default: ./kith-data].
    #[arg(long, env = "KITH_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// HS256 secret for tokens and API keys, at least 32 characters [default: generated in the data dir].
    #[arg(long, env = "KITH_JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Public URL of this server, used in links and token issuers [default: http://<bind>].
    #[arg(long, env = "KITH_SITE_URL", global = true)]
    pub site_url: Option<String>,
    /// Log format: `json` or `pretty` [default: pretty on a terminal, json otherwise].
    #[arg(long, env = "KITH_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Comma-separated origins allowed by CORS, or `*` [default: *].
    #[arg(long, env = "KITH_CORS_ORIGINS", global = true)]
    pub cors_origins: Option<String>,
    /// Most connections in the request pool [default: 16].
    #[arg(long, env = "KITH_POOL_SIZE", global = true)]
    pub pool_size: Option<String>,
    /// Seconds a connection may take to send a request's headers (also closes idle kept-alive ones) [default: 10].
    #[arg(long, env = "KITH_HEADER_TIMEOUT", global = true)]
    pub header_timeout: Option<String>,
    /// Longest pause in seconds between two chunks of a request body [default: 10].
    #[arg(long, env = "KITH_BODY_TIMEOUT", global = true)]
    pub body_timeout: Option<String>,
    /// Most open connections to the public listener [default: 1024].
    #[arg(long, env = "KITH_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<String>,
    /// Milliseconds a request waits for a pooled database connection before answering 503 [default: 5000].
    #[arg(long, env = "KITH_POOL_WAIT_MS", global = true)]
    pub pool_wait_ms: Option<String>,
    /// Comma-separated schemas the data API exposes; the first is the default [default: public].
    #[arg(long, env = "KITH_REST_SCHEMAS", global = true)]
    pub rest_schemas: Option<String>,
    /// Comma-separated schemas searched after the requested one, for types and operators of extensions
    /// [default: public, extensions].
    #[arg(long, env = "KITH_REST_EXTRA_SEARCH_PATH", global = true)]
    pub rest_extra_search_path: Option<String>,
    /// Most rows one data API response returns [default: 1000].
    #[arg(long, env = "KITH_REST_MAX_ROWS", global = true)]
    pub rest_max_rows: Option<String>,
    /// Statement timeout of data API requests in milliseconds, 0 for none [default: 8000].
    #[arg(long, env = "KITH_REST_STATEMENT_TIMEOUT_MS", global = true)]
    pub rest_statement_timeout_ms: Option<String>,
    /// Directory of the Storage API's files [default: <data dir>/storage].
    #[arg(long, env = "KITH_STORAGE_DIR", global = true)]
    pub storage_dir: Option<PathBuf>,
    /// Largest file the Storage API accepts, in bytes [default: 52428800].
    #[arg(long, env = "KITH_STORAGE_MAX_FILE_SIZE", global = true)]
    pub storage_max_file_size: Option<String>,
    /// Auth settings.
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl std::fmt::Debug for SettingArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingArgs").finish_non_exhaustive()
    }
}

/// Settings of the auth service (`/auth/v1`).
#[derive(Default, Args)]
pub struct AuthArgs {
    /// Confirm email addresses at sign-up without a mail round trip [default: true].
    #[arg(long, env = "KITH_AUTH_AUTOCONFIRM", global = true)]
    pub auth_autoconfirm: Option<String>,
    /// Refuse new sign-ups [default: false].
    #[arg(long, env = "KITH_AUTH_DISABLE_SIGNUP", global = true)]
    pub auth_disable_signup: Option<String>,
    /// Allow anonymous sign-ins (POST /signup without email or phone) [default: false].
    #[arg(long, env = "KITH_AUTH_ANONYMOUS", global = true)]
    pub auth_anonymous: Option<String>,
    /// Shortest accepted password [default: 8].
    #[arg(long, env = "KITH_AUTH_MIN_PASSWORD_LENGTH", global = true)]
    pub auth_min_password_length: Option<String>,
    /// Requests per window per IP address to sign-up, sign-in, recover, otp and verify [default: 30].
    #[arg(long, env = "KITH_AUTH_RATE_LIMIT_IP", global = true)]
    pub auth_rate_limit_ip: Option<String>,
    /// Requests per window per email address to the same endpoints [default: 10].
    #[arg(long, env = "KITH_AUTH_RATE_LIMIT_EMAIL", global = true)]
    pub auth_rate_limit_email: Option<String>,
    /// Rate-limit window in seconds [default: 300].
    #[arg(long, env = "KITH_AUTH_RATE_LIMIT_WINDOW", global = true)]
    pub auth_rate_limit_window: Option<String>,
    /// Seconds a rotated refresh token may still be presented [default: 10].
    #[arg(long, env = "KITH_AUTH_REFRESH_REUSE_INTERVAL", global = true)]
    pub auth_refresh_reuse_interval: Option<String>,
    /// Accept PKCE `plain` challenges [default: false].
    #[arg(long, env = "KITH_AUTH_ALLOW_PLAIN_PKCE", global = true)]
    pub auth_allow_plain_pkce: Option<String>,
    /// Comma-separated URLs that `redirect_to` may point to, beside the site URL.
    #[arg(long, env = "KITH_AUTH_REDIRECT_URLS", global = true)]
    pub auth_redirect_urls: Option<String>,
    /// Access-token lifetime in seconds [default: 3600].
    #[arg(long, env = "KITH_JWT_EXP", global = true)]
    pub jwt_exp: Option<String>,
    /// SMTP server for auth mail, e.g. smtps://user:pass@mail.example.com [default: write to <data dir>/outbox].
    #[arg(long, env = "KITH_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of auth mail [default: Kith <no-reply@kith.localhost>].
    #[arg(long, env = "KITH_SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// Seconds a browser session may stay unused before it ends [default: 86400].
    #[arg(long, env = "KITH_WEB_SESSION_IDLE_TIMEOUT", global = true)]
    pub web_session_idle_timeout: Option<String>,
    /// Seconds after sign-in a browser session ends, however active [default: 1209600].
    #[arg(long, env = "KITH_WEB_SESSION_ABSOLUTE_TIMEOUT", global = true)]
    pub web_session_absolute_timeout: Option<String>,
    /// Key material (32+ characters) for encrypting MFA secrets at rest [default: derived from the JWT secret].
    #[arg(long, env = "KITH_MFA_ENCRYPTION_KEY", global = true, hide_env_values = true)]
    pub mfa_encryption_key: Option<String>,
}

impl std::fmt::Debug for AuthArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthArgs").finish_non_exhaustive()
    }
}

/// Kith's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrating the database first).
    Serve {
        /// Seed the demo organization first (see `kith seed --demo`).
        #[arg(long)]
        demo: bool,
    },
    /// Load data into the database.
    Seed {
        /// The demo organization: two users (credentials printed), ~50 contacts, 60 days of interactions, a week
        /// of events.
        #[arg(long, required = true)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the database for row-level-security, grant and schema mistakes, and probe tenant isolation live
    /// (in a transaction that is rolled back); exits non-zero on any ERROR finding.
    Audit {
        /// Output format.
        #[arg(long, value_enum, default_value_t = crate::audit::Format::Human)]
        format: crate::audit::Format,
        /// Skip the live probe (static lints only).
        #[arg(long)]
        no_probe: bool,
    },
    /// Print the anon and service-role API keys; manage the asymmetric signing keys.
    Keys {
        /// What to do with keys [default: print the API keys].
        #[command(subcommand)]
        action: Option<KeysCommand>,
    },
    /// Manage users.
    User {
        /// What to do with users.
        #[command(subcommand)]
        action: UserCommand,
    },
}

/// Signing-key management.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new ES256 signing key; earlier keys keep verifying until retired.
    Rotate,
    /// Stop accepting tokens signed by a key that no longer signs.
    Retire {
        /// The key id (`kid`).
        kid: String,
    },
    /// List the signing keys.
    List,
}

/// User management.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user whose email is already confirmed.
    Create {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// The user's password (at least 8 characters); prefer KITH_USER_PASSWORD to keep it out of `ps`.
        #[arg(long, env = "KITH_USER_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

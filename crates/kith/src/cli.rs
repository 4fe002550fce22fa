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

/// Settings as given on the command line or in the environment, before validation.
#[derive(Debug, Default, Args)]
pub struct SettingArgs {
    /// TOML file with any of the settings below (keys in snake_case, e.g. `bind = "0.0.0.0:8080"`).
    #[arg(long, env = "KITH_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "KITH_BIND", global = true)]
    pub bind: Option<String>,
    /// Postgres URL of the schema owner (runs migrations). Without it Kith runs its own embedded Postgres.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Postgres URL the request pool logs in with (role kith_authenticator) [default: DATABASE_URL with that user].
    #[arg(long, env = "KITH_POOL_URL", global = true, hide_env_values = true)]
    pub pool_url: Option<String>,
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
    /// Print the anon and service-role API keys for the configured JWT secret.
    Keys,
    /// Manage users.
    User {
        /// What to do with users.
        #[command(subcommand)]
        action: UserCommand,
    },
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

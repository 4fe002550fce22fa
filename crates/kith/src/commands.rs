//! What each subcommand does once settings are valid.

use crate::cli::KeysCommand;
use crate::embedded::{EmbeddedPostgres, SUPERUSER};
use crate::settings::{Database, Settings};
use crate::{admin, app, server};
use anyhow::Context;
use kith_auth::AuthState;
use kith_auth::mailer::Mailer;
use kith_auth::signing::{self, Signer};
use kith_db::identity::JwtVerifier;
use kith_db::tls::PgTarget;
use kith_db::{AUTHENTICATOR_ROLE, Db, PrivilegedDb};
use kith_http::AppState;
use secrecy::ExposeSecret;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often the background re-score looks for aged or changed contacts.
const RESCORE_EVERY: Duration = Duration::from_secs(60);
/// How long a one-off command waits for its pooled connection.
const ONE_OFF_WAIT: Duration = Duration::from_secs(5);
/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The two connections: the schema owner's (migrations) and the request pool's.
pub struct Connections {
    /// Runs migrations.
    pub owner: PgTarget,
    /// Logs in as `kith_authenticator`.
    pub pool: PgTarget,
}

/// Resolves the connections, creating the embedded database on first start.
pub async fn connections(settings: &Settings, embedded: Option<&EmbeddedPostgres>) -> anyhow::Result<Connections> {
    match (&settings.database, embedded) {
        (Database::External { owner, pool }, _) => Ok(Connections {
            owner: (**owner).clone(),
            pool: (**pool).clone(),
        }),
        (Database::Embedded, Some(server)) => {
            server
                .ensure_database()
                .await
                .context("cannot create the embedded database")?;
            Ok(Connections {
                owner: PgTarget::from_config(server.config(SUPERUSER))?,
                pool: PgTarget::from_config(server.config(AUTHENTICATOR_ROLE))?,
            })
        }
        (Database::Embedded, None) => anyhow::bail!("the embedded PostgreSQL is not running"),
    }
}

/// `kith migrate`.
pub async fn migrate(connections: &Connections) -> anyhow::Result<()> {
    let applied = kith_db::migrate::migrate_target(&connections.owner).await?;
    tracing::info!(
        applied = applied.len(),
        version = kith_db::migrate::latest_version(),
        "database is up to date"
    );
    Ok(())
}

/// `kith serve`: migrate, then serve until SIGINT or SIGTERM, then drain in-flight requests.
pub async fn serve(settings: &Settings, connections: &Connections) -> anyhow::Result<()> {
    migrate(connections).await?;
    let secret = settings.jwt_secret()?;
    let secret = secret.expose_secret();
    let (db, privileged) = Db::with_privileged_over(connections.pool.clone(), settings.pool_size, settings.pool_wait)?;
    let (state, auth) = build_state(settings, db, privileged, secret).await?;
    // Stored lead scores age as interactions decay: keep them current in the background.
    kith_crm::rescore_job::spawn(state.db.clone(), RESCORE_EVERY);
    let storage =
        kith_storage::StorageConfig::new(&settings.storage_dir, settings.storage_max_file_size, secret.as_bytes());
    let router = app::router_with_storage(state.clone(), &auth, &settings.rest, Some(&storage), &settings.http)?;
    let router = server::body_timeout(router, &settings.limits);

    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {} (KITH_BIND)", settings.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, site_url = %settings.site_url, "kith is listening");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    if let Some(address) = settings.admin_bind {
        let outbox = settings
            .auth
            .smtp_url
            .is_none()
            .then(|| settings.auth.outbox_dir.clone());
        let mut admin_stop = stop_rx.clone();
        let stop = async move {
            let _ = admin_stop.wait_for(|stop| *stop).await;
        };
        let bound = admin::spawn(address, admin::router(state, outbox), stop).await?;
        tracing::info!(address = %bound, "admin listener is up (/metrics, /health, /ready)");
    }
    let mut drain_rx = stop_rx.clone();
    let server = server::serve(listener, router, settings.limits, async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
        tracing::info!("shutting down: finishing in-flight requests");
    });
    tokio::select! {
        result = server => result.context("the HTTP server failed")?,
        () = async {
            let _ = drain_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } => tracing::warn!("in-flight requests did not finish in time; stopping anyway"),
    }
    Ok(())
}

/// The shared state and the auth service's, with the signing keys loaded (and reloaded every minute, so a
/// rotation on one node reaches the others). The privileged door goes to the auth service alone.
pub async fn build_state(
    settings: &Settings,
    db: Db,
    privileged: PrivilegedDb,
    secret: &str,
) -> anyhow::Result<(AppState, AuthState)> {
    let verifier = JwtVerifier::hs256(secret.as_bytes()).with_issuer(settings.auth.issuer());
    let state = AppState::new(db, verifier);
    let signer = Signer::new(secret.as_bytes());
    let mailer = Mailer::new(
        settings.auth.smtp_url.as_ref().map(ExposeSecret::expose_secret),
        &settings.auth.mail_from,
        settings.auth.outbox_dir.clone(),
    )?;
    let auth = AuthState::new(
        privileged,
        state.verifier.clone(),
        signer,
        settings.auth.clone(),
        mailer,
    )
    .await?;
    auth.reload_keys().await?;
    // Keys are reloaded when a node rotates or retires one (NOTIFY), and every minute in case a notification
    // was missed while the listening connection was down.
    let reload = auth.clone();
    let db = state.db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        let mut changes = None;
        loop {
            if changes.is_none() {
                changes = db.listen(signing::KEYS_CHANNEL).await.ok();
            }
            tokio::select! {
                _ = tick.tick() => {}
                changed = async {
                    match changes.as_mut() {
                        Some(changes) => changes.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if changed.is_none() {
                        changes = None;
                    }
                }
            }
            if let Err(err) = reload.reload_keys().await {
                tracing::warn!(error = %err, "cannot reload signing keys");
            }
        }
    });
    Ok((state, auth))
}

/// `kith keys rotate|retire|list`.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub async fn manage_keys(connections: &Connections, action: &KeysCommand) -> anyhow::Result<()> {
    migrate(connections).await?;
    let (_, db) = Db::with_privileged_over(connections.pool.clone(), 1, ONE_OFF_WAIT)?;
    match action {
        KeysCommand::Rotate => {
            let kid = signing::rotate(&db).await?;
            println!("new signing key {kid} (ES256) signs from now on; earlier keys keep verifying until retired");
            println!("running servers pick it up at once (and within a minute if a notification is missed)");
        }
        KeysCommand::Retire { kid } => {
            if !signing::retire(&db, kid).await? {
                anyhow::bail!(
                    "no verify-only key {kid}: only keys that no longer sign can be retired (see `kith keys list`)"
                );
            }
            println!("retired {kid}: tokens it signed no longer verify");
        }
        KeysCommand::List => {
            for (kid, algorithm, status, created_at) in signing::list(&db).await? {
                println!("{kid}  {algorithm}  {status:<11}  {}", created_at.to_rfc3339());
            }
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}

/// `kith user create`.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub async fn create_user(connections: &Connections, email: &str, password: &str) -> anyhow::Result<()> {
    migrate(connections).await?;
    let (_, db) = Db::with_privileged_over(connections.pool.clone(), 1, ONE_OFF_WAIT)?;
    let id = kith_auth::users::create_confirmed(&db, email, password).await?;
    println!("created user {id} <{}>", email.trim().to_lowercase());
    Ok(())
}

/// `kith keys`.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub fn print_keys(settings: &Settings) -> anyhow::Result<()> {
    let secret = settings.jwt_secret()?;
    let now = chrono_now();
    let keys = kith_auth::api_keys::mint(secret.expose_secret().as_bytes(), now)?;
    println!("anon key:         {}", keys.anon);
    println!("service_role key: {}", keys.service_role);
    println!("(the service_role key bypasses row-level security: keep it on servers, never in a browser)");
    Ok(())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `kith seed --demo` (and `kith serve --demo`): the demo organization, its two users and their credentials.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub async fn seed_demo(settings: &Settings, connections: &Connections) -> anyhow::Result<()> {
    use crate::demo;
    use kith_auth::users::CreateUserError;
    migrate(connections).await?;
    let secret = settings.jwt_secret()?;
    let (db, privileged) = Db::with_privileged_over(connections.pool.clone(), 2, ONE_OFF_WAIT)?;
    let (_, auth) = build_state(settings, db, privileged.clone(), secret.expose_secret()).await?;
    let mut users = Vec::new();
    for email in [demo::OWNER_EMAIL, demo::MEMBER_EMAIL] {
        let password = format!("demo-{:016x}", rand::random::<u64>());
        match kith_auth::users::create_confirmed(&privileged, email, &password).await {
            Ok(id) => users.push((id, email, Some(password))),
            Err(CreateUserError::AlreadyExists) => {
                let id = kith_auth::users::id_by_email(&privileged, email)
                    .await?
                    .context("the demo user exists but cannot be read")?;
                users.push((id, email, None));
            }
            Err(err) => return Err(err.into()),
        }
    }
    let seeded = demo::seed(&privileged, users[0].0, users[1].0).await?;
    println!(
        "demo organization {} (workspace {})",
        seeded.org_id, seeded.workspace_id
    );
    println!("  {} contacts, {} events", seeded.contacts, seeded.events);
    for (id, email, password) in &users {
        match password {
            Some(password) => println!("  user {email}  password {password}"),
            None => println!("  user {email}  (already existed; password unchanged)"),
        }
        let session = auth.open_session(*id, "password").await?;
        let token = session["access_token"].as_str().unwrap_or_default();
        println!("    access token ({} s): {token}", settings.auth.jwt_exp);
    }
    let site = settings.site_url.as_str().trim_end_matches('/');
    println!("open {site}/login in a browser and sign in as one of the users above (Email and Password)");
    println!(
        "  try: curl -H \"Authorization: Bearer <token>\" \"{}/api/agents/contact-intelligence?workspace_id={}\"",
        settings.site_url.as_str().trim_end_matches('/'),
        seeded.workspace_id
    );
    println!(
        "       curl -H \"Authorization: Bearer <token>\" \"{}/api/calendar/events?workspace_id={}\"",
        settings.site_url.as_str().trim_end_matches('/'),
        seeded.workspace_id
    );
    Ok(())
}

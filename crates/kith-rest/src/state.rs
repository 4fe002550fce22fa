//! The data API's shared state: its settings and the schema cache, loaded on first use and reloaded on
//! `NOTIFY pgrst, 'reload schema'` by a listener on its own connection (never on the request path).

use crate::error::RestError;
use crate::schema::SchemaCache;
use axum::extract::FromRef;
use kith_db::Db;
use kith_http::AppState;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// Settings of the data API.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Exposed schemas; the first is the default profile.
    pub schemas: Vec<String>,
    /// Most rows one response returns.
    pub max_rows: i64,
    /// `statement_timeout` of every data API transaction, in milliseconds (0: none), so no request can keep
    /// a connection busy past it (Supabase gives its API roles 3–8 s).
    pub statement_timeout_ms: u64,
    /// Schemas searched after the request's own (`KITH_REST_EXTRA_SEARCH_PATH`, default `public, extensions`,
    /// as Supabase runs PostgREST), so the types and operators of extensions installed there resolve as the
    /// caller's role sees them (citext's case-insensitive `=`).
    pub extra_search_path: Vec<String>,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            schemas: vec!["public".to_owned()],
            max_rows: 1000,
            statement_timeout_ms: 8000,
            extra_search_path: vec!["public".to_owned(), "extensions".to_owned()],
        }
    }
}

/// The state `/rest/v1` handlers are given: the application's (pool, verifier) and the data API's own. A
/// router without it does not compile, where a missing `Extension` layer was a 500 at run time.
#[derive(Debug, Clone)]
pub struct RestService {
    /// The pool and the token verifier.
    pub app: AppState,
    /// Settings and schema cache.
    pub rest: Arc<RestState>,
}

impl FromRef<RestService> for AppState {
    fn from_ref(service: &RestService) -> Self {
        service.app.clone()
    }
}

impl FromRef<RestService> for Arc<RestState> {
    fn from_ref(service: &RestService) -> Self {
        service.rest.clone()
    }
}

impl RestConfig {
    /// The `search_path` of a request to `schema`: that schema, then the extra ones (each once, quoted).
    pub fn search_path(&self, schema: &str) -> String {
        let mut names: Vec<&str> = vec![schema];
        for name in &self.extra_search_path {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
            .iter()
            .map(|n| crate::sql::quote_ident(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The data API's shared state: its settings and the schema cache.
#[derive(Debug)]
pub struct RestState {
    /// Its settings.
    pub config: RestConfig,
    cache: RwLock<Option<Arc<SchemaCache>>>,
    started: tokio::sync::OnceCell<()>,
}

impl RestState {
    /// A state whose cache is loaded on first use.
    pub fn new(config: RestConfig) -> Self {
        RestState {
            config,
            cache: RwLock::new(None),
            started: tokio::sync::OnceCell::new(),
        }
    }

    /// The current schema cache, loading it (and starting the reload listener) on first use.
    pub async fn schema(self: &Arc<Self>, db: &Db) -> Result<Arc<SchemaCache>, RestError> {
        self.started
            .get_or_init(|| async {
                // LISTEN before the first load, so no reload between the two is missed.
                let notifications = match db.listen("pgrst").await {
                    Ok(n) => Some(n),
                    Err(err) => {
                        tracing::warn!(error = %err, "data API: cannot listen for schema reloads yet");
                        None
                    }
                };
                self.reload(db).await;
                tokio::spawn(watch(Arc::downgrade(self), db.clone(), notifications));
            })
            .await;
        if let Some(cache) = self.current() {
            return Ok(cache);
        }
        self.reload(db).await;
        self.current().ok_or_else(RestError::cache_unavailable)
    }

    fn current(&self) -> Option<Arc<SchemaCache>> {
        self.cache.read().ok().and_then(|guard| guard.clone())
    }

    /// Reads the catalogs again; keeps the old cache if that fails.
    pub async fn reload(&self, db: &Db) {
        match SchemaCache::load(db, &self.config.schemas).await {
            Ok(cache) => {
                tracing::info!(
                    tables = cache.tables.len(),
                    functions = cache.functions.len(),
                    "data API schema cache loaded"
                );
                if let Ok(mut guard) = self.cache.write() {
                    *guard = Some(Arc::new(cache));
                }
            }
            Err(err) => tracing::warn!(error = %err, "data API: cannot load the schema cache"),
        }
    }
}

/// Reloads the cache on each `pgrst` notification (`reload schema` or empty payload), reconnecting with
/// backoff; ends when the state is gone.
async fn watch(state: Weak<RestState>, db: Db, mut notifications: Option<kith_db::Notifications>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        if let Some(mut listening) = notifications.take() {
            backoff = Duration::from_secs(1);
            while let Some(payload) = listening.recv().await {
                let Some(state) = state.upgrade() else { return };
                if payload.is_empty() || payload == "reload schema" {
                    state.reload(&db).await;
                }
            }
            tracing::warn!("data API: schema reload listener disconnected");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
        let Some(alive) = state.upgrade() else { return };
        match db.listen("pgrst").await {
            Ok(listening) => {
                // Changes made while disconnected were not announced to us: read everything again.
                alive.reload(&db).await;
                notifications = Some(listening);
            }
            Err(err) => tracing::debug!(error = %err, "data API: reconnecting the schema listener"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RestConfig;

    #[test]
    fn search_path_is_the_schema_then_the_extra_ones_quoted_once() {
        let config = RestConfig::default();
        assert_eq!(config.search_path("public"), "\"public\", \"extensions\"");
        assert_eq!(config.search_path("api"), "\"api\", \"public\", \"extensions\"");
        let odd = RestConfig {
            extra_search_path: vec!["we\"ird".to_owned()],
            ..RestConfig::default()
        };
        assert_eq!(odd.search_path("public"), "\"public\", \"we\"\"ird\"");
    }
}

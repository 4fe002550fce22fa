//! Kith's Storage API: a `/storage/v1` compatible with supabase-js' `storage` client (Supabase Storage's routes,
//! bodies and errors), with its metadata in `storage.buckets` / `storage.objects` and its bytes on local disk.
//!
//! Every bucket and object operation runs in the caller's transaction ([`kith_db::Db::begin_as`], the same door
//! as `/api` and `/rest/v1`), so row-level security on the storage tables decides it and an app's storage
//! policies apply as written. Limits that are rules on stored values (a bucket's size limit and MIME types,
//! names) are enforced by Postgres (migration 0090); this crate streams the bytes ([`files`]), refuses early
//! what it can, and words the answers ([`error`]). Signed URLs are tokens checked here ([`signed`]).

mod buckets;
mod caller;
pub mod error;
pub mod files;
pub mod names;
mod objects;
pub mod signed;

use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use error::{StorageError, StorageResult};
use kith_db::{Access, Caller, CallerTx, Db};
use kith_http::AppState;
use std::path::PathBuf;
use std::sync::Arc;

/// Settings of the Storage API.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Where object files are kept.
    pub dir: PathBuf,
    /// Largest object the server accepts, whatever a bucket allows (bytes).
    pub max_file_size: u64,
    signer: signed::UrlSigner,
}

impl StorageConfig {
    /// Files under `dir`, objects up to `max_file_size` bytes, URLs signed with a key derived from `jwt_secret`.
    pub fn new(dir: impl Into<PathBuf>, max_file_size: u64, jwt_secret: &[u8]) -> Self {
        StorageConfig {
            dir: dir.into(),
            max_file_size,
            signer: signed::UrlSigner::new(jwt_secret),
        }
    }
}

/// The Storage API's shared state.
#[derive(Debug)]
pub(crate) struct StorageState {
    pub(crate) files: files::FileStore,
    pub(crate) max_file_size: u64,
    pub(crate) signer: signed::UrlSigner,
}

/// Opens the caller's transaction. Its identity travels with a first statement that names no table: statements
/// about `storage.*` are then prepared as the caller's role (which may use the schema), never as the pool's
/// login role, which may not.
pub(crate) async fn begin(db: &Db, caller: &Caller, access: Access) -> StorageResult<CallerTx> {
    let mut tx = db.begin_as(caller, access).await.map_err(StorageError::from)?;
    tx.query("select 1", &[]).await.map_err(StorageError::from)?;
    Ok(tx)
}

/// The `/storage/v1` routes.
pub fn routes(config: &StorageConfig) -> Router<AppState> {
    let state = Arc::new(StorageState {
        files: files::FileStore::new(config.dir.clone()),
        max_file_size: config.max_file_size,
        signer: config.signer.clone(),
    });
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let files = state.files.clone();
        runtime.spawn(async move { files.sweep_abandoned_uploads().await });
    }
    Router::new()
        .route("/storage/v1/bucket", get(buckets::list).post(buckets::create))
        .route("/storage/v1/bucket/", get(buckets::list).post(buckets::create))
        .route(
            "/storage/v1/bucket/{id}",
            get(buckets::get_one).put(buckets::update).delete(buckets::remove),
        )
        .route("/storage/v1/bucket/{id}/empty", post(buckets::empty))
        .route("/storage/v1/object/list/{bucket}", post(objects::list))
        .route("/storage/v1/object/move", post(objects::move_object))
        .route("/storage/v1/object/copy", post(objects::copy))
        .route("/storage/v1/object/sign/{bucket}", post(objects::sign_many))
        .route(
            "/storage/v1/object/sign/{bucket}/{*name}",
            post(objects::sign).get(objects::download_signed),
        )
        .route("/storage/v1/object/public/{bucket}/{*name}", get(objects::download))
        .route(
            "/storage/v1/object/authenticated/{bucket}/{*name}",
            get(objects::download),
        )
        .route(
            "/storage/v1/object/info/public/{bucket}/{*name}",
            get(objects::info_public),
        )
        .route(
            "/storage/v1/object/info/authenticated/{bucket}/{*name}",
            get(objects::info),
        )
        .route("/storage/v1/object/info/{bucket}/{*name}", get(objects::info))
        .route("/storage/v1/object/{bucket}", delete(objects::remove_many))
        .route(
            "/storage/v1/object/{bucket}/{*name}",
            post(objects::upload)
                .put(objects::upload)
                .get(objects::download)
                .delete(objects::remove_one),
        )
        .layer(Extension(state))
}

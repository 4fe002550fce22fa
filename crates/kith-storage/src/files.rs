//! The bytes: one immutable file per object version under the storage directory, `objects/<ab>/<version>`.
//! Uploads stream into `tmp/` (memory does not grow with the file) and are renamed into place only once the
//! database row is written; every file not yet committed is removed when its guard drops, so a failed upload
//! leaves no file behind.

use crate::error::{StorageError, StorageResult};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::{Digest, Md5};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Where object files live.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// A file that is deleted when dropped, unless [`PendingFile::keep`] was called.
#[derive(Debug)]
pub struct PendingFile {
    path: Option<PathBuf>,
}

impl PendingFile {
    fn new(path: PathBuf) -> Self {
        PendingFile { path: Some(path) }
    }

    /// Keeps the file for good.
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // A file that is already gone is what we want.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An upload received into a temporary file.
#[derive(Debug)]
pub struct Received {
    /// The temporary file (removed on drop).
    pub file: PendingFile,
    /// Its size in bytes.
    pub size: u64,
    /// The hex MD5 of its content (the ETag, as S3 and Supabase give it).
    pub md5: String,
}

/// How much of a refused body is still read (and thrown away) so the client, still sending, gets to read the
/// answer instead of a reset connection. Past it, the connection is simply closed.
pub const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Reads and discards up to `limit` bytes of what is left of `body`.
pub async fn drain<S, E>(body: S, limit: u64)
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut body = std::pin::pin!(body);
    let mut seen: u64 = 0;
    while seen <= limit {
        match body.next().await {
            Some(Ok(chunk)) => seen += chunk.len() as u64,
            _ => return,
        }
    }
}

/// A new object version id: 32 lowercase hex digits.
pub fn new_version() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn is_version(version: &str) -> bool {
    version.len() == 32
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl FileStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileStore { root: root.into() }
    }

    /// The directory files live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of one object version; `None` for anything that is not a version id.
    pub fn path_of(&self, version: &str) -> Option<PathBuf> {
        is_version(version).then(|| self.root.join("objects").join(&version[..2]).join(version))
    }

    /// Streams `body` into a temporary file, refusing it (413, nothing kept) once it passes `limit` bytes.
    pub async fn receive<S, E>(&self, body: S, limit: u64) -> StorageResult<Received>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let tmp = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(|err| StorageError::internal("cannot create the storage directory", &err))?;
        let path = tmp.join(new_version());
        let mut out = tokio::fs::File::create(&path)
            .await
            .map_err(|err| StorageError::internal("cannot create an upload file", &err))?;
        let file = PendingFile::new(path);
        let mut size: u64 = 0;
        let mut hasher = Md5::new();
        let mut body = Box::pin(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| StorageError::invalid(format!("The upload could not be read: {err}")))?;
            size = size.saturating_add(chunk.len() as u64);
            if size > limit {
                drain(body, DRAIN_LIMIT).await;
                return Err(StorageError::too_large());
            }
            hasher.update(&chunk);
            out.write_all(&chunk)
                .await
                .map_err(|err| StorageError::internal("cannot write an upload", &err))?;
        }
        out.flush()
            .await
            .map_err(|err| StorageError::internal("cannot write an upload", &err))?;
        out.sync_all()
            .await
            .map_err(|err| StorageError::internal("cannot write an upload", &err))?;
        let md5 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Received { file, size, md5 })
    }

    /// Moves a received file to its version's place; the returned guard removes it again unless kept (so a
    /// transaction that then fails to commit leaves no file).
    pub async fn place(&self, received: Received, version: &str) -> StorageResult<PendingFile> {
        let target = self.target(version).await?;
        let Some(from) = received.file.path.as_ref() else {
            return Err(StorageError::internal("placing an upload", &"the upload is gone"));
        };
        tokio::fs::rename(from, &target)
            .await
            .map_err(|err| StorageError::internal("cannot move an upload into place", &err))?;
        received.file.keep();
        Ok(PendingFile::new(target))
    }

    /// A new version sharing the bytes of `from` (a hard link: versions never change), removed unless kept.
    pub async fn duplicate(&self, from: &str, version: &str) -> StorageResult<PendingFile> {
        let source = self.path_of(from).ok_or_else(StorageError::object_not_found)?;
        let target = self.target(version).await?;
        if tokio::fs::hard_link(&source, &target).await.is_err() {
            tokio::fs::copy(&source, &target)
                .await
                .map_err(|err| StorageError::internal("cannot copy an object's file", &err))?;
        }
        Ok(PendingFile::new(target))
    }

    async fn target(&self, version: &str) -> StorageResult<PathBuf> {
        let target = self
            .path_of(version)
            .ok_or_else(|| StorageError::internal("placing an upload", &"not a version id"))?;
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|err| StorageError::internal("cannot create the storage directory", &err))?;
        }
        Ok(target)
    }

    /// Removes upload files left in `tmp/` by a process that stopped mid-upload (older than an hour: no live
    /// upload takes that long under the request timeout). Run once at start-up, off the request path.
    pub async fn sweep_abandoned_uploads(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(self.root.join("tmp")).await else {
            return;
        };
        let hour = std::time::Duration::from_secs(3600);
        while let Ok(Some(entry)) = entries.next_entry().await {
            let old = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > hour);
            if old && let Err(err) = tokio::fs::remove_file(entry.path()).await {
                tracing::warn!(error = %err, "storage: cannot remove an abandoned upload");
            }
        }
    }

    /// Removes the files of versions whose rows are gone (after the deleting transaction committed). A failure
    /// is logged, not answered: the row is already gone, only disk space is lost.
    pub async fn remove(&self, versions: impl IntoIterator<Item = String>) {
        for version in versions {
            let Some(path) = self.path_of(&version) else { continue };
            if let Err(err) = tokio::fs::remove_file(&path).await
                && err.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(error = %err, version, "storage: cannot remove an object's file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_version_ids_become_paths() {
        let store = FileStore::new("/data/storage");
        let version = new_version();
        let path = store.path_of(&version).unwrap();
        assert!(path.starts_with("/data/storage/objects"));
        for bad in ["../../etc/passwd", "", "ABCDEF0123456789ABCDEF0123456789", "a/b"] {
            assert!(store.path_of(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_upload_over_the_limit_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("kith-storage-test-{}", new_version()));
        let store = FileStore::new(&dir);
        let chunks = futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 100]))));
        let err = store.receive(chunks, 500).await.unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"hello"))]);
        let received = store.receive(chunks, 500).await.unwrap();
        assert_eq!(received.size, 5);
        assert_eq!(received.md5, "5d41402abc4b2a76b9719d911017c592");
        drop(received);
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        // Uploads abandoned by a stopped process are swept; recent ones are left alone.
        let fresh = dir.join("tmp").join(new_version());
        let stale = dir.join("tmp").join(new_version());
        std::fs::write(&fresh, b"in progress").unwrap();
        std::fs::write(&stale, b"abandoned").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        store.sweep_abandoned_uploads().await;
        assert!(fresh.exists() && !stale.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

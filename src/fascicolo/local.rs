//! The filesystem backend: `<dir>/<tenant>/<sha[0..2]>/<sha256>`, staging in
//! `<dir>/staging/<uuid>` on the same filesystem so that a staged file can be linked
//! into place.

use std::{
    io,
    path::{Path, PathBuf},
    time::SystemTime,
};

use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use super::{is_sha256_hex, Intake, ObjectInfo, ObjectReader, PutOutcome, StoreError, UploadError};

const STAGING: &str = "staging";
const WRITE_BUFFER: usize = 1024 * 1024;
const READ_CHUNK: usize = 64 * 1024;

pub(super) struct LocalStore {
    root: PathBuf,
}

/// Removes the staging file unless disarmed: on errors, and when the upload's future is
/// dropped half-way (the client went away and axum cancelled the handler).
struct StagingFile(Option<PathBuf>);

impl Drop for StagingFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "staging file left behind; the sweep will remove it");
                }
            }
        }
    }
}

fn io_err(operation: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    move |e| StoreError::backend(operation, e)
}

fn storage(operation: &'static str) -> impl FnOnce(io::Error) -> UploadError {
    move |e| UploadError::Storage(StoreError::backend(operation, e))
}

impl LocalStore {
    pub(super) async fn open(root: &Path) -> Result<LocalStore, StoreError> {
        tokio::fs::create_dir_all(root.join(STAGING)).await.map_err(io_err("creating the storage directory"))?;
        Ok(LocalStore { root: root.to_path_buf() })
    }

    fn path(&self, tenant: Uuid, sha256: &str) -> PathBuf {
        self.root.join(tenant.to_string()).join(&sha256[..2]).join(sha256)
    }

    pub(super) async fn put<S, E>(&self, tenant: Uuid, intake: &mut Intake<S>) -> Result<PutOutcome, UploadError>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Send + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let staging = self.root.join(STAGING).join(Uuid::new_v4().to_string());
        let file = tokio::fs::File::create_new(&staging).await.map_err(storage("creating a staging file"))?;
        let mut guard = StagingFile(Some(staging.clone()));
        let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        while let Some(chunk) = intake.next().await? {
            writer.write_all(&chunk).await.map_err(storage("writing a staging file"))?;
        }
        writer.flush().await.map_err(storage("writing a staging file"))?;
        let file = writer.into_inner();
        // On disk before it gets a name that says "complete".
        file.sync_all().await.map_err(storage("syncing a staging file"))?;
        drop(file);
        let (sha256, size) = intake.finish();

        let target = self.path(tenant, &sha256);
        let dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await.map_err(storage("creating a tenant directory"))?;
        // Read-only: the content under a hash never changes.
        let mut permissions =
            tokio::fs::metadata(&staging).await.map_err(storage("reading a staging file"))?.permissions();
        permissions.set_readonly(true);
        tokio::fs::set_permissions(&staging, permissions).await.map_err(storage("protecting a staging file"))?;
        // A hard link never replaces an existing name: if the document is already there
        // (same content, same hash) it is kept as it is.
        // If the document is already there it is re-used: its modification time is set
        // to now, so that the orphan sweep sees it young. Swept meanwhile: link again.
        let mut placed = None;
        for _ in 0..2 {
            match tokio::fs::hard_link(&staging, &target).await {
                Ok(()) => {
                    sync_dir(&dir).await.map_err(storage("syncing a tenant directory"))?;
                    placed = Some(false);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match touch(&target).await {
                    Ok(()) => {
                        placed = Some(true);
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(storage("refreshing a document")(e)),
                },
                Err(e) => return Err(storage("linking a document into place")(e)),
            }
        }
        let deduplicated =
            placed.ok_or_else(|| storage("linking a document into place")(io::Error::other("removed meanwhile")))?;
        drop(guard.0.take());
        if let Err(e) = tokio::fs::remove_file(&staging).await {
            tracing::warn!(path = %staging.display(), error = %e, "staging file left behind; the sweep will remove it");
        }
        Ok(PutOutcome { sha256, size, multipart: false, deduplicated })
    }

    pub(super) async fn get(&self, tenant: Uuid, sha256: &str) -> Result<ObjectReader, StoreError> {
        let file = match tokio::fs::File::open(self.path(tenant, sha256)).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(io_err("opening a document")(e)),
        };
        let size = file.metadata().await.map_err(io_err("reading a document"))?.len();
        Ok(ObjectReader { size, stream: Box::pin(ReaderStream::with_capacity(file, READ_CHUNK)) })
    }

    pub(super) async fn exists(&self, tenant: Uuid, sha256: &str) -> Result<bool, StoreError> {
        tokio::fs::try_exists(self.path(tenant, sha256)).await.map_err(io_err("looking up a document"))
    }

    pub(super) async fn last_modified(&self, tenant: Uuid, sha256: &str) -> Result<Option<SystemTime>, StoreError> {
        match tokio::fs::metadata(self.path(tenant, sha256)).await {
            Ok(meta) => Ok(Some(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("looking up a document")(e)),
        }
    }

    pub(super) async fn list(&self, tenant: Uuid) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        let mut fanout = match tokio::fs::read_dir(self.root.join(tenant.to_string())).await {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err("listing documents")(e)),
        };
        while let Some(sub) = fanout.next_entry().await.map_err(io_err("listing documents"))? {
            if !sub.file_type().await.map_err(io_err("listing documents"))?.is_dir() {
                continue;
            }
            let mut files = tokio::fs::read_dir(sub.path()).await.map_err(io_err("listing documents"))?;
            while let Some(entry) = files.next_entry().await.map_err(io_err("listing documents"))? {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !is_sha256_hex(&name) {
                    continue;
                }
                let meta = entry.metadata().await.map_err(io_err("listing documents"))?;
                out.push(ObjectInfo {
                    sha256: name,
                    size: meta.len(),
                    last_modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        out.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Ok(out)
    }

    pub(super) async fn delete(&self, tenant: Uuid, sha256: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(tenant, sha256)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("deleting a document")(e)),
        }
    }

    async fn staging_entries(&self) -> Result<Vec<(PathBuf, SystemTime)>, StoreError> {
        let mut dir = tokio::fs::read_dir(self.root.join(STAGING)).await.map_err(io_err("listing staging files"))?;
        let mut out = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(io_err("listing staging files"))? {
            // A file removed meanwhile (its upload just finished) is simply skipped.
            let Ok(meta) = entry.metadata().await else { continue };
            out.push((entry.path(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        }
        Ok(out)
    }

    pub(super) async fn sweep_staging(&self, cutoff: SystemTime) -> Result<usize, StoreError> {
        let mut removed = 0;
        for (path, modified) in self.staging_entries().await? {
            if modified <= cutoff {
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("removing a staging file")(e)),
                }
            }
        }
        Ok(removed)
    }

    pub(super) async fn staging_count(&self) -> Result<usize, StoreError> {
        Ok(self.staging_entries().await?.len())
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        let meta =
            tokio::fs::metadata(self.root.join(STAGING)).await.map_err(io_err("checking the storage directory"))?;
        if meta.is_dir() && !meta.permissions().readonly() {
            Ok(())
        } else {
            Err(StoreError::Config(format!("{} is not a writable directory", self.root.display())))
        }
    }
}

/// Sets a document's modification time to now (its content and permissions stay).
async fn touch(path: &Path) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(path)?.set_modified(SystemTime::now()))
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}

/// Makes a new directory entry durable (a crash after rename/link could lose it otherwise).
async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}

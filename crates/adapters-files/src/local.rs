//! Files in a local directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use domain::error::DomainError;
use domain::medical_records::{ByteStream, FileStore, FileWriter};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::check_key;

#[derive(Debug, Clone)]
pub struct LocalDirStore {
    root: PathBuf,
}

fn io(e: std::io::Error) -> DomainError {
    tracing::warn!(error = %e, "file store I/O failed");
    DomainError::Unavailable("file store")
}

impl LocalDirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, DomainError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Where unfinished uploads are written.
    pub fn partial_dir(&self) -> PathBuf {
        self.root.join(".partial")
    }
}

struct LocalWriter {
    file: Option<tokio::fs::File>,
    partial: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Drop for LocalWriter {
    /// A writer dropped mid-upload (the request was cancelled) leaves nothing behind.
    fn drop(&mut self) {
        if !self.done {
            self.file.take();
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[async_trait]
impl FileWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError> {
        match self.file.as_mut() {
            Some(f) => f.write_all(chunk).await.map_err(io),
            None => Err(DomainError::broken("write after close")),
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<(), DomainError> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| DomainError::broken("finish after close"))?;
        file.flush().await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        drop(file);
        if let Some(parent) = self.target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        tokio::fs::rename(&self.partial, &self.target)
            .await
            .map_err(io)?;
        self.done = true;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        self.file.take();
        let _ = tokio::fs::remove_file(&self.partial).await;
        self.done = true;
    }
}

#[async_trait]
impl FileStore for LocalDirStore {
    async fn create(&self, key: &str) -> Result<Box<dyn FileWriter>, DomainError> {
        let target = self.path(key)?;
        let dir = self.partial_dir();
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let partial = dir.join(uuid::Uuid::new_v4().to_string());
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
            .map_err(io)?;
        Ok(Box::new(LocalWriter {
            file: Some(file),
            partial,
            target,
            done: false,
        }))
    }

    async fn open(&self, key: &str) -> Result<ByteStream, DomainError> {
        let file = match tokio::fs::File::open(self.path(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DomainError::NotFound("file"))
            }
            Err(e) => return Err(io(e)),
        };
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024)
            .map(|chunk| chunk.map(|b| b.to_vec()).map_err(io));
        Ok(Box::pin(stream))
    }

    async fn delete(&self, key: &str) -> Result<(), DomainError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

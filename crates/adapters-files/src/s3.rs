//! Files in an S3-compatible bucket, through `object_store`.

use std::sync::Arc;

use async_trait::async_trait;
use domain::error::DomainError;
use domain::medical_records::{ByteStream, FileStore, FileWriter};
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};

use crate::check_key;

/// Where the bucket is. Credentials come from configuration only (never from code).
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// For MinIO, Ceph, etc.; empty for AWS.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow `http://` endpoints (local MinIO); never for production.
    pub allow_http: bool,
}

/// Any `object_store` backend as the file store.
#[derive(Clone)]
pub struct ObjectStoreFiles {
    store: Arc<dyn ObjectStore>,
}

fn store_error(e: object_store::Error) -> DomainError {
    match e {
        object_store::Error::NotFound { .. } => DomainError::NotFound("file"),
        other => {
            tracing::warn!(error = %other, "object store request failed");
            DomainError::Unavailable("file store")
        }
    }
}

impl ObjectStoreFiles {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// An S3 (or S3-compatible) bucket.
    pub fn s3(config: &S3Config) -> Result<Self, String> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| e.to_string())?;
        Ok(Self::new(Arc::new(store)))
    }

    fn path(key: &str) -> Result<Path, DomainError> {
        check_key(key)?;
        Path::parse(key).map_err(|e| DomainError::unexpected("S3 object key", e))
    }
}

struct ObjectWriter {
    upload: Option<WriteMultipart>,
}

#[async_trait]
impl FileWriter for ObjectWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), DomainError> {
        let upload = self
            .upload
            .as_mut()
            .ok_or_else(|| DomainError::broken("write after close"))?;
        // Back-pressure: at most 4 parts in flight.
        upload.wait_for_capacity(4).await.map_err(store_error)?;
        upload.write(chunk);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<(), DomainError> {
        let upload = self
            .upload
            .take()
            .ok_or_else(|| DomainError::broken("finish after close"))?;
        upload.finish().await.map(|_| ()).map_err(store_error)
    }

    async fn abort(mut self: Box<Self>) {
        if let Some(upload) = self.upload.take() {
            if let Err(e) = upload.abort().await {
                tracing::warn!(error = %e, "aborting a multipart upload failed");
            }
        }
    }
}

#[async_trait]
impl FileStore for ObjectStoreFiles {
    async fn create(&self, key: &str) -> Result<Box<dyn FileWriter>, DomainError> {
        let upload = self
            .store
            .put_multipart(&Self::path(key)?)
            .await
            .map_err(store_error)?;
        Ok(Box::new(ObjectWriter {
            upload: Some(WriteMultipart::new(upload)),
        }))
    }

    async fn open(&self, key: &str) -> Result<ByteStream, DomainError> {
        let got = self
            .store
            .get(&Self::path(key)?)
            .await
            .map_err(store_error)?;
        Ok(Box::pin(got.into_stream().map(|chunk| {
            chunk.map(|b| b.to_vec()).map_err(store_error)
        })))
    }

    async fn delete(&self, key: &str) -> Result<(), DomainError> {
        match self.store.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adapter's contract over an in-memory backend (the S3 wire protocol itself is
    /// object_store's; see the README for what is and is not tested against a bucket).
    #[tokio::test]
    async fn writes_appear_on_finish_and_vanish_on_abort() {
        let files = ObjectStoreFiles::new(Arc::new(object_store::memory::InMemory::new()));
        let mut w = files.create("medical-records/p/1").await.unwrap();
        w.write(b"hello ").await.unwrap();
        w.write(b"world").await.unwrap();
        w.finish().await.unwrap();
        let mut s = files.open("medical-records/p/1").await.unwrap();
        let mut all = Vec::new();
        while let Some(c) = s.next().await {
            all.extend(c.unwrap());
        }
        assert_eq!(all, b"hello world");

        let mut w = files.create("medical-records/p/2").await.unwrap();
        w.write(b"partial").await.unwrap();
        w.abort().await;
        assert!(matches!(
            files.open("medical-records/p/2").await.err(),
            Some(DomainError::NotFound("file"))
        ));
        files.delete("medical-records/p/1").await.unwrap();
        files.delete("medical-records/p/1").await.unwrap();
        assert!(files.create("../escape").await.is_err());
    }
}

//! The S3 backend (AWS, MinIO, Ceph, Garage; s3s-fs in tests).
//!
//! Small documents (one part or less) are hashed in memory and PUT straight to their
//! content address. Larger ones go to `staging/<uuid>` as a multipart upload, since the
//! address is only known at the end, then are copied to it server-side. A marker object
//! `staging/<uuid>.upload-id` holds the upload id for as long as the upload is open, so
//! the sweep can abort uploads left by a crash even on servers without
//! ListMultipartUploads (s3s-fs); where that call exists, the sweep uses it too.

use std::{
    collections::HashSet,
    io,
    time::{Duration, SystemTime},
};

use aws_sdk_s3::{
    config::{
        http::HttpResponse, timeout::TimeoutConfig, BehaviorVersion, Credentials, Region, RequestChecksumCalculation,
        ResponseChecksumValidation,
    },
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart, MetadataDirective},
    Client,
};
use bytes::Bytes;
use futures::Stream;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{
    formats::Format, is_sha256_hex, object_key, Intake, ObjectInfo, ObjectReader, PutOutcome, StoreError, UploadError,
};
use crate::config::Settings;

/// Part size: S3 wants at least 5 MiB for every part but the last; 8 MiB is what the AWS
/// tools use and keeps memory at a few parts per upload.
pub(super) const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts sent at once: enough to keep the connection busy while the next part is read.
const PARTS_IN_FLIGHT: usize = 3;
/// CopyObject copies at most 5 GiB in one request.
const MAX_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;
const STAGING_PREFIX: &str = "staging/";
const MARKER_SUFFIX: &str = ".upload-id";

pub(super) struct S3Store {
    client: Client,
    bucket: String,
}

/// The error of a failed S3 call, with the whole chain of causes in its message
/// (the SDK's own `Display` says only "service error"). Never holds credentials.
fn s3_error<E>(operation: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::backend(operation, DisplayErrorContext(&e).to_string())
}

fn storage(e: StoreError) -> UploadError {
    UploadError::Storage(e)
}

fn is_status<E>(e: &SdkError<E, HttpResponse>, status: u16) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == status)
}

impl S3Store {
    pub(super) fn new(settings: &Settings) -> Result<S3Store, StoreError> {
        let missing = |what: &str| StoreError::Config(format!("storage_backend = \"s3\" needs {what}"));
        let bucket = settings.s3_bucket.clone().filter(|b| !b.is_empty()).ok_or_else(|| missing("s3_bucket"))?;
        let access_key =
            settings.s3_access_key.clone().filter(|k| !k.is_empty()).ok_or_else(|| missing("s3_access_key"))?;
        let secret_key = settings.s3_secret_key.as_ref().ok_or_else(|| missing("s3_secret_key"))?;
        if settings.upload_max_bytes > MAX_COPY_BYTES {
            return Err(StoreError::Config("upload_max_bytes may be at most 5 GiB with the s3 backend".into()));
        }
        let credentials = Credentials::new(access_key, secret_key.expose(), None, None, "sportello-settings");
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.s3_region.clone()))
            .credentials_provider(credentials)
            // Path-style URLs work with every S3 server and with an IP endpoint.
            .force_path_style(true)
            // Integrity is our SHA-256 of the whole document; the SDK's per-request CRC32
            // would cost CPU and is not understood by every S3 server.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            // A dead endpoint must fail an upload quickly, not hang the citizen's request.
            .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).build());
        if let Some(endpoint) = settings.s3_endpoint.as_deref().filter(|e| !e.is_empty()) {
            config = config.endpoint_url(endpoint);
        }
        Ok(S3Store { client: Client::from_conf(config.build()), bucket })
    }

    pub(super) async fn put<S, E>(
        &self,
        tenant: Uuid,
        intake: &mut Intake<S>,
        format: Format,
    ) -> Result<PutOutcome, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let first = intake.read_part(PART_SIZE).await?;
        if first.len() < PART_SIZE {
            return self.put_small(tenant, intake, first, format).await;
        }
        // One more chunk tells a document of exactly one part from a larger one.
        match intake.next().await? {
            None => self.put_small(tenant, intake, first, format).await,
            Some(next) => {
                intake.pending = Some(next);
                self.put_multipart(tenant, intake, first, format).await
            }
        }
    }

    async fn put_small<S, E>(
        &self,
        tenant: Uuid,
        intake: &mut Intake<S>,
        body: Bytes,
        format: Format,
    ) -> Result<PutOutcome, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (sha256, size) = intake.finish();
        let key = object_key(tenant, &sha256);
        let mut outcome = PutOutcome { sha256, size, multipart: false, deduplicated: true };
        if self.refresh(&key, format).await.map_err(storage)? {
            return Ok(outcome);
        }
        // If-None-Match: a server that supports conditional writes refuses to replace an
        // object stored meanwhile (412); the others were asked just above (the refresh), and a
        // race between two uploads of one hash writes the same bytes anyway.
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(format.mime())
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await;
        match result {
            Ok(_) => outcome.deduplicated = false,
            Err(e) if is_status(&e, 412) || is_status(&e, 409) => {}
            Err(e) => return Err(storage(s3_error("PutObject")(e))),
        }
        Ok(outcome)
    }

    async fn put_multipart<S, E>(
        &self,
        tenant: Uuid,
        intake: &mut Intake<S>,
        first: Bytes,
        format: Format,
    ) -> Result<PutOutcome, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let staging = format!("{STAGING_PREFIX}{}", Uuid::new_v4());
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&staging)
            .content_type(format.mime())
            .send()
            .await
            .map_err(|e| storage(s3_error("CreateMultipartUpload")(e)))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| storage(StoreError::backend("CreateMultipartUpload", "no upload id in the answer")))?
            .to_string();
        let mut guard = OpenUpload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            staging: staging.clone(),
            upload_id: upload_id.clone(),
            armed: true,
        };
        let result = async {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(guard.marker())
                .body(ByteStream::from(Bytes::from(upload_id.clone())))
                .send()
                .await
                .map_err(|e| storage(s3_error("PutObject (upload marker)")(e)))?;
            let parts = self.upload_parts(intake, first, &staging, &upload_id).await?;
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&staging)
                .upload_id(&upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(|e| storage(s3_error("CompleteMultipartUpload")(e)))?;
            Ok::<_, UploadError>(())
        }
        .await;
        if let Err(e) = result {
            guard.abort().await;
            return Err(e);
        }
        // Complete: the upload is now the staging object; the marker goes with it below.
        let (sha256, size) = intake.finish();
        let key = object_key(tenant, &sha256);
        let mut outcome = PutOutcome { sha256, size, multipart: true, deduplicated: true };
        let placed = async {
            if !self.refresh(&key, format).await? {
                self.client
                    .copy_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .copy_source(format!("{}/{staging}", self.bucket))
                    .send()
                    .await
                    .map_err(s3_error("CopyObject"))?;
                outcome.deduplicated = false;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        guard.armed = false;
        // The staging object and its marker go either way; if this fails the sweep does it.
        for leftover in [staging.clone(), guard.marker()] {
            if let Err(e) = self.delete(&leftover).await {
                tracing::warn!(key = %leftover, error = %e, "staging object left behind; the sweep will remove it");
            }
        }
        placed.map_err(storage)?;
        Ok(outcome)
    }

    /// Sends parts as they fill, a few at a time, and returns them in order.
    async fn upload_parts<S, E>(
        &self,
        intake: &mut Intake<S>,
        first: Bytes,
        staging: &str,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut in_flight: JoinSet<Result<CompletedPart, StoreError>> = JoinSet::new();
        let mut done = Vec::new();
        let mut number = 0;
        let mut next = Some(first);
        loop {
            let Some(body) = next.take() else { break };
            number += 1;
            let request = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(staging)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(body));
            in_flight.spawn(async move {
                let answer = request.send().await.map_err(s3_error("UploadPart"))?;
                Ok(CompletedPart::builder().part_number(number).set_e_tag(answer.e_tag().map(str::to_string)).build())
            });
            // Wait for a slot before reading more: this is what bounds memory.
            while in_flight.len() >= PARTS_IN_FLIGHT {
                done.push(joined(in_flight.join_next().await)?);
            }
            let part = intake.read_part(PART_SIZE).await?;
            if !part.is_empty() {
                next = Some(part);
            }
        }
        while let Some(result) = in_flight.join_next().await {
            done.push(joined(Some(result))?);
        }
        done.sort_by_key(|p| p.part_number());
        Ok(done)
    }

    pub(super) async fn get(&self, tenant: Uuid, sha256: &str) -> Result<ObjectReader, StoreError> {
        let answer = self.client.get_object().bucket(&self.bucket).key(object_key(tenant, sha256)).send().await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) if is_status(&e, 404) => return Err(StoreError::NotFound),
            Err(e) => return Err(s3_error("GetObject")(e)),
        };
        let size = answer.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let stream = futures::stream::unfold(answer.body, |mut body| async move {
            body.next().await.map(|chunk| (chunk.map_err(io::Error::other), body))
        });
        Ok(ObjectReader { size, stream: Box::pin(stream) })
    }

    /// Re-use of a stored document: copied onto itself (`MetadataDirective: REPLACE`,
    /// which S3 requires for that), which gives it a new `LastModified` — the orphan
    /// sweep sees it young. `false` when there is no such object.
    async fn refresh(&self, key: &str, format: Format) -> Result<bool, StoreError> {
        let result = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(key)
            .copy_source(format!("{}/{key}", self.bucket))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(format.mime())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) || e.code() == Some("NoSuchKey") => Ok(false),
            Err(e) => Err(s3_error("CopyObject (refresh)")(e)),
        }
    }

    pub(super) async fn last_modified(&self, key: &str) -> Result<Option<SystemTime>, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => Ok(Some(modified(head.last_modified()))),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(s3_error("HeadObject")(e)),
        }
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) => Ok(false),
            Err(e) => Err(s3_error("HeadObject")(e)),
        }
    }

    /// Every object under `prefix`, following continuation tokens.
    async fn list_prefix(&self, prefix: &str) -> Result<Vec<aws_sdk_s3::types::Object>, StoreError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(s3_error("ListObjectsV2"))?;
            out.extend(page.contents.unwrap_or_default());
        }
        Ok(out)
    }

    pub(super) async fn list(&self, tenant: Uuid) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        for object in self.list_prefix(&format!("{tenant}/")).await? {
            let Some(sha256) = object.key().and_then(|k| k.rsplit('/').next()).filter(|s| is_sha256_hex(s)) else {
                continue;
            };
            out.push(ObjectInfo {
                sha256: sha256.to_string(),
                size: object.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                last_modified: modified(object.last_modified()),
            });
        }
        out.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Ok(out)
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.map_err(s3_error("DeleteObject"))?;
        Ok(())
    }

    /// Open multipart uploads under `staging/` as (key, upload id, initiated), or none when
    /// the server does not implement the listing.
    async fn open_uploads(&self) -> Result<Vec<(String, String, SystemTime)>, StoreError> {
        let mut out = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut id_marker: Option<String> = None;
        loop {
            let answer = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(STAGING_PREFIX)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) if e.code() == Some("NotImplemented") || is_status(&e, 501) => return Ok(Vec::new()),
                Err(e) => return Err(s3_error("ListMultipartUploads")(e)),
            };
            for upload in answer.uploads() {
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                    out.push((key.to_string(), id.to_string(), modified(upload.initiated())));
                }
            }
            if answer.is_truncated() != Some(true) {
                return Ok(out);
            }
            key_marker = answer.next_key_marker().map(str::to_string);
            id_marker = answer.next_upload_id_marker().map(str::to_string);
            if key_marker.is_none() {
                return Ok(out);
            }
        }
    }

    pub(super) async fn sweep_staging(&self, cutoff: SystemTime) -> Result<usize, StoreError> {
        let mut removed = 0;
        let mut aborted = HashSet::new();
        for object in self.list_prefix(STAGING_PREFIX).await? {
            let Some(key) = object.key() else { continue };
            if modified(object.last_modified()) > cutoff {
                continue;
            }
            if let Some(staging) = key.strip_suffix(MARKER_SUFFIX) {
                // An upload that never completed: abort it with the id the marker kept.
                let marker = self.client.get_object().bucket(&self.bucket).key(key).send().await;
                if let Ok(marker) = marker {
                    let id = marker.body.collect().await.map(|b| b.into_bytes()).unwrap_or_default();
                    let id = String::from_utf8_lossy(&id).trim().to_string();
                    self.abort(staging, &id).await?;
                    aborted.insert(id);
                }
            }
            self.delete(key).await?;
            removed += 1;
        }
        for (key, id, initiated) in self.open_uploads().await? {
            if initiated <= cutoff && !aborted.contains(&id) {
                self.abort(&key, &id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let result =
            self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send().await;
        match result {
            Ok(_) => Ok(()),
            // Already gone (completed or aborted before): nothing to do.
            Err(e) if e.code() == Some("NoSuchUpload") || is_status(&e, 404) => Ok(()),
            // s3s-fs answers an unknown upload id with AccessDenied.
            Err(e) if e.code() == Some("AccessDenied") || e.code() == Some("InvalidRequest") => Ok(()),
            Err(e) => Err(s3_error("AbortMultipartUpload")(e)),
        }
    }

    pub(super) async fn staging_count(&self) -> Result<usize, StoreError> {
        let objects = self.list_prefix(STAGING_PREFIX).await?;
        let keys: HashSet<&str> = objects.iter().filter_map(|o| o.key()).collect();
        let unmarked = self
            .open_uploads()
            .await?
            .into_iter()
            .filter(|(key, _, _)| !keys.contains(format!("{key}{MARKER_SUFFIX}").as_str()))
            .count();
        Ok(keys.len() + unmarked)
    }

    pub(super) async fn check(&self) -> Result<(), StoreError> {
        self.client.head_bucket().bucket(&self.bucket).send().await.map_err(s3_error("HeadBucket"))?;
        Ok(())
    }
}

fn modified(at: Option<&aws_sdk_s3::primitives::DateTime>) -> SystemTime {
    at.and_then(|t| SystemTime::try_from(*t).ok()).unwrap_or(SystemTime::UNIX_EPOCH)
}

fn joined(
    result: Option<Result<Result<CompletedPart, StoreError>, tokio::task::JoinError>>,
) -> Result<CompletedPart, UploadError> {
    match result {
        Some(Ok(Ok(part))) => Ok(part),
        Some(Ok(Err(e))) => Err(UploadError::Storage(e)),
        Some(Err(e)) => Err(UploadError::Storage(StoreError::backend("UploadPart", e))),
        None => Err(UploadError::Storage(StoreError::backend("UploadPart", "no part in flight"))),
    }
}

/// A multipart upload not yet completed. Errors abort it on the spot; if the upload's
/// future is dropped instead (the client disconnected), the abort is sent from a task.
struct OpenUpload {
    client: Client,
    bucket: String,
    staging: String,
    upload_id: String,
    armed: bool,
}

impl OpenUpload {
    fn marker(&self) -> String {
        format!("{}{MARKER_SUFFIX}", self.staging)
    }

    async fn abort(&mut self) {
        self.armed = false;
        abort_and_forget(self.client.clone(), self.bucket.clone(), self.staging.clone(), self.upload_id.clone()).await;
    }
}

async fn abort_and_forget(client: Client, bucket: String, staging: String, upload_id: String) {
    let aborted = client.abort_multipart_upload().bucket(&bucket).key(&staging).upload_id(&upload_id).send().await;
    if let Err(e) = aborted {
        tracing::warn!(key = %staging, error = %DisplayErrorContext(&e), "multipart upload not aborted; the sweep will");
        // Keep the marker: it is how the sweep finds the upload again.
        return;
    }
    let marker = format!("{staging}{MARKER_SUFFIX}");
    if let Err(e) = client.delete_object().bucket(&bucket).key(&marker).send().await {
        tracing::warn!(key = %marker, error = %DisplayErrorContext(&e), "upload marker left behind; the sweep will remove it");
    }
}

impl Drop for OpenUpload {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, bucket) = (self.client.clone(), self.bucket.clone());
            let (staging, upload_id) = (std::mem::take(&mut self.staging), std::mem::take(&mut self.upload_id));
            runtime.spawn(abort_and_forget(client, bucket, staging, upload_id));
        }
    }
}

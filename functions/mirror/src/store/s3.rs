//! The S3 artifact store: runner packages in a private bucket, the layout of DESIGN.md.
//!
//! ```text
//! runners/v<V>/<asset name>                  immutable, written once, never overwritten
//! channels/<channel>/<asset name w/o version> the approved asset at a fixed key, overwritten
//! ```
//!
//! This adapter owns the S3 side of the artifact rules: an object under `runners/` appears only
//! when the whole verified body was read and its stream ended cleanly (a multipart upload is
//! completed, or a small body is put, only then; on any error the upload is aborted), it is
//! never overwritten (`If-None-Match: *` on the request that makes it visible), and it carries
//! the SHA-256 and the source URL in its user metadata, which is what [`ArtifactStore::has`]
//! checks. Memory stays bounded whatever the asset size: one part is uploading while the next
//! one fills.
//!
//! A multipart upload that is cut short without an error (the process killed, the future
//! dropped) cannot be aborted here; the bucket's `AbortIncompleteMultipartUpload` lifecycle
//! rule removes those parts.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use policy::{Artifact, Sha256};

use super::aws::aws_error;
use super::{ArtifactStore, StoreError};
use crate::names::{ArtifactKey, ChannelName};
use crate::verify::ByteStream;

/// The size of every part but the last. S3 wants at least 5 MiB for those; 8 MiB keeps the
/// request count low (25 parts for a 200 MiB asset) while two parts in memory stay small.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// How long a presigned download URL stays valid unless [`S3Store::with_presign_expiry`] says
/// otherwise: long enough for a runner to start its download, short enough not to be shared.
pub const DEFAULT_PRESIGN_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// The longest validity SigV4 presigning allows.
const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// User metadata (`x-amz-meta-…`) the artifact objects carry.
const META_SHA256: &str = "sha256";
const META_SOURCE_URL: &str = "source-url";

/// Runner packages are archives that runners unpack themselves; nothing should render them.
const CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Clone, Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    presign_expiry: Duration,
}

impl S3Store {
    /// A store on `bucket`, which must exist: it is checked now so that a wrong name or a
    /// missing permission fails at start rather than in the middle of a copy.
    pub async fn new(config: &aws_config::SdkConfig, bucket: &str) -> Result<S3Store, StoreError> {
        let store = S3Store::unchecked(config, bucket);
        if let Err(e) = store.client.head_bucket().bucket(bucket).send().await {
            // HeadBucket answers a missing bucket with a bare 404, whose message says nothing.
            let missing = e.as_service_error().is_some_and(|e| e.is_not_found());
            let mut error = aws_error("HeadBucket", &format!("s3://{bucket}"), e);
            if let StoreError::Aws { message, .. } = &mut error {
                if missing {
                    *message = "the bucket does not exist (check its name, the account and the \
                                region)"
                        .to_owned();
                }
            }
            return Err(error);
        }
        Ok(store)
    }

    /// A store on `bucket`, without a request: for a process that only presigns URLs (the
    /// redirect function), whose role may read objects but not the bucket, and whose cold
    /// start should not wait for a check its requests do not need.
    pub fn unchecked(config: &aws_config::SdkConfig, bucket: &str) -> S3Store {
        let mut s3_config = aws_sdk_s3::config::Builder::from(config);
        // Local S3s (moto, MinIO) answer on one host name, not on `<bucket>.<host>`.
        if config.endpoint_url().is_some() {
            s3_config = s3_config.force_path_style(true);
        }
        S3Store {
            client: Client::from_conf(s3_config.build()),
            bucket: bucket.to_owned(),
            presign_expiry: DEFAULT_PRESIGN_EXPIRY,
        }
    }

    /// Sets how long download URLs stay valid; kept between 1 s and the 7 days SigV4 allows.
    /// (A URL signed with temporary credentials also ends when they do.)
    pub fn with_presign_expiry(mut self, expiry: Duration) -> Self {
        let clamped = expiry.clamp(Duration::from_secs(1), MAX_PRESIGN_EXPIRY);
        if clamped != expiry {
            tracing::warn!(
                requested = ?expiry,
                used = ?clamped,
                "presigned URLs last between 1 s and 7 days"
            );
        }
        self.presign_expiry = clamped;
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// How errors name an object: the form `aws s3` takes.
    fn resource(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Puts a body that fits in one part with a single request, sent only now that the whole
    /// body was read and its stream ended cleanly.
    async fn put_whole(
        &self,
        key: &ArtifactKey,
        artifact: &Artifact,
        bytes: Bytes,
    ) -> Result<(), StoreError> {
        let location = key.to_string();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&location)
            .content_type(CONTENT_TYPE)
            .metadata(META_SHA256, artifact.sha256.to_string())
            .metadata(META_SOURCE_URL, &artifact.download_url)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .if_none_match("*")
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| self.occupied_or(key, "PutObject", e))?;
        Ok(())
    }

    /// Uploads `first` (a full part) and the rest of the body as parts of an open multipart
    /// upload and completes it once the body ended cleanly. The caller aborts on error.
    async fn upload_rest(
        &self,
        key: &ArtifactKey,
        upload_id: &str,
        first: Bytes,
        reader: &mut PartReader,
    ) -> Result<(), StoreError> {
        let location = key.to_string();
        let mut parts = Vec::new();
        let (mut part, mut ended) = (first, false);
        let mut spare = BytesMut::new();
        while !ended {
            let number = parts_count(&parts) + 1;
            // One part uploads while the next fills: the download never waits for S3 unless a
            // whole part is ready, and no more than two parts are ever held, in two buffers
            // that take turns. The first error drops the other future, which cancels its
            // request or stops reading.
            let ((completed, uploaded), (next, next_ended)) = futures_util::future::try_join(
                self.upload_part(&location, upload_id, number, part),
                reader.next_part(spare),
            )
            .await?;
            parts.push(completed);
            spare = reuse(uploaded);
            (part, ended) = (next, next_ended);
        }
        // A body that ended exactly at a part boundary leaves nothing for a last part.
        if !part.is_empty() {
            let number = parts_count(&parts) + 1;
            let (completed, _) = self.upload_part(&location, upload_id, number, part).await?;
            parts.push(completed);
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&location)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            // Only here does the object become visible, and never over an existing one.
            .if_none_match("*")
            .send()
            .await
            .map_err(|e| self.occupied_or(key, "CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn upload_part(
        &self,
        location: &str,
        upload_id: &str,
        number: i32,
        bytes: Bytes,
    ) -> Result<(CompletedPart, Bytes), StoreError> {
        // The CRC32 lets S3 reject a part damaged on the way; the completion must repeat it.
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(location)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(bytes.clone().into())
            .send()
            .await
            .map_err(|e| aws_error("UploadPart", &self.resource(location), e))?;
        let completed = CompletedPart::builder()
            .part_number(number)
            .set_e_tag(output.e_tag().map(str::to_owned))
            .set_checksum_crc32(output.checksum_crc32().map(str::to_owned))
            .build();
        // The bytes come back so that their buffer can hold a later part.
        Ok((completed, bytes))
    }

    /// The error of a request that makes `key` visible: a refused precondition means another
    /// writer got there first, and the key is taken for good.
    fn occupied_or<E>(
        &self,
        key: &ArtifactKey,
        operation: &'static str,
        error: SdkError<E, HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if is_precondition_failure(&error) {
            StoreError::Occupied { key: key.clone() }
        } else {
            aws_error(operation, &self.resource(&key.to_string()), error)
        }
    }

    /// Removes the parts of a failed upload. Its own failure is only logged: the caller reports
    /// the error that made the upload fail, and the lifecycle rule is the backstop.
    async fn abort(&self, location: &str, upload_id: &str) {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(location)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            let error = aws_error("AbortMultipartUpload", &self.resource(location), e);
            tracing::warn!(%upload_id, %error, "a failed upload's parts are left to the bucket's lifecycle rule");
        }
    }
}

fn parts_count(parts: &[CompletedPart]) -> i32 {
    // At most 10,000 parts exist (S3's limit), so this never saturates in practice.
    i32::try_from(parts.len()).unwrap_or(i32::MAX)
}

/// `bucket/key` as the `x-amz-copy-source` header wants it: percent-encoded but for `/`.
/// Runner keys are letters, digits, `.`, `-` and `/` today; a version with build metadata
/// (`+`) would need the encoding.
fn percent_encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                encoded.push(char::from(byte));
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// Whether S3 refused a conditional write: with `If-None-Match: *`, the key exists (412), or
/// another conditional write on it is in progress (409 `ConditionalRequestConflict`).
fn is_precondition_failure<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    let status = error.raw_response().map(|r| r.status().as_u16());
    status == Some(412)
        || matches!(
            error.code(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
}

/// Cuts a body into parts of exactly [`PART_SIZE`] bytes (the last one shorter), whatever the
/// sizes of its chunks.
struct PartReader {
    body: ByteStream,
    /// The rest of a chunk that straddled the previous part's end.
    carry: Bytes,
    /// The key, for errors.
    location: String,
}

impl PartReader {
    fn new(body: ByteStream, location: String) -> Self {
        PartReader {
            body,
            carry: Bytes::new(),
            location,
        }
    }

    /// Reads the next part into `buffer`; returns it and whether the body ended. Only a clean
    /// end counts: a stream error (a broken download, the verification failing) is an error.
    async fn next_part(&mut self, mut buffer: BytesMut) -> Result<(Bytes, bool), StoreError> {
        buffer.clear();
        buffer.reserve(PART_SIZE);
        loop {
            if !self.carry.is_empty() {
                let take = self.carry.len().min(PART_SIZE - buffer.len());
                buffer.extend_from_slice(&self.carry.split_to(take));
                if buffer.len() == PART_SIZE {
                    return Ok((buffer.freeze(), false));
                }
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.carry = chunk,
                Some(Err(cause)) => {
                    return Err(StoreError::Io {
                        location: self.location.clone(),
                        cause,
                    })
                }
                None => return Ok((buffer.freeze(), true)),
            }
        }
    }
}

/// The buffer of an uploaded part, for the next one: reusing it keeps the allocator from
/// holding on to a third part's worth of freed memory. If the SDK still holds a reference,
/// a new buffer is made (and the old one is freed with that reference).
fn reuse(uploaded: Bytes) -> BytesMut {
    uploaded.try_into_mut().unwrap_or_default()
}

#[async_trait]
impl ArtifactStore for S3Store {
    async fn has(&self, key: &ArtifactKey, sha256: &Sha256) -> Result<bool, StoreError> {
        let location = key.to_string();
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&location)
            .send()
            .await;
        let output = match head {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => return Ok(false),
            Err(e) => return Err(aws_error("HeadObject", &self.resource(&location), e)),
        };
        // The metadata was written from the verified SHA-256 in the same request that made the
        // object visible, so it describes these bytes; an object without it is not ours.
        let stored = output.metadata().and_then(|m| m.get(META_SHA256));
        Ok(stored.is_some_and(|stored| stored.eq_ignore_ascii_case(&sha256.to_string())))
    }

    async fn put(
        &self,
        key: &ArtifactKey,
        artifact: &Artifact,
        body: ByteStream,
    ) -> Result<(), StoreError> {
        let location = key.to_string();
        let mut reader = PartReader::new(body, location.clone());
        let (first, ended) = reader.next_part(BytesMut::new()).await?;
        if ended {
            // The whole body fits in one part: one PutObject, and no upload to clean up.
            return self.put_whole(key, artifact, first).await;
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&location)
            .content_type(CONTENT_TYPE)
            .metadata(META_SHA256, artifact.sha256.to_string())
            .metadata(META_SOURCE_URL, &artifact.download_url)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| aws_error("CreateMultipartUpload", &self.resource(&location), e))?;
        let Some(upload_id) = created.upload_id() else {
            return Err(StoreError::Corrupt {
                location: self.resource(&location),
                detail: "CreateMultipartUpload returned no upload id".to_owned(),
            });
        };
        let uploaded = self.upload_rest(key, upload_id, first, &mut reader).await;
        if uploaded.is_err() {
            self.abort(&location, upload_id).await;
        }
        uploaded
    }

    async fn download_url(&self, key: &ArtifactKey) -> Result<String, StoreError> {
        let location = key.to_string();
        // Built per call: the validity starts now.
        let presigning = PresigningConfig::expires_in(self.presign_expiry)
            .expect("the expiry is kept within the week presigning allows");
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&location)
            .presigned(presigning)
            .await
            .map_err(|e| aws_error("GetObject (presign)", &self.resource(&location), e))?;
        Ok(request.uri().to_owned())
    }

    /// Copies the artifact, server-side, to `channels/<channel>/<asset name without version>`,
    /// replacing what was there: that key follows the channel's approved version, for runners
    /// that fetch a fixed key with `aws s3 cp`. The copy keeps the artifact's metadata.
    async fn copy_to_channel(
        &self,
        channel: &ChannelName,
        key: &ArtifactKey,
    ) -> Result<(), StoreError> {
        let target = key.channel_copy(channel);
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(&target)
            // The SDK encodes the target key, but the source is a header the caller encodes.
            .copy_source(percent_encode_path(&format!("{}/{key}", self.bucket)))
            .send()
            .await
            .map_err(|e| aws_error("CopyObject", &self.resource(&target), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    #[test]
    fn copy_sources_are_percent_encoded_but_for_slashes() {
        assert_eq!(
            percent_encode_path("bucket/runners/v2.1.0+build.1/a b.tar.gz"),
            "bucket/runners/v2.1.0%2Bbuild.1/a%20b.tar.gz"
        );
    }

    fn chunks(sizes: &[usize]) -> ByteStream {
        let items: Vec<std::io::Result<Bytes>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Ok(Bytes::from(vec![i as u8; n])))
            .collect();
        Box::pin(stream::iter(items))
    }

    #[tokio::test]
    async fn parts_are_exactly_part_size_whatever_the_chunks() {
        // One chunk larger than a part, then small ones: parts are cut at PART_SIZE exactly.
        let total = 2 * PART_SIZE + 3;
        let mut reader = PartReader::new(chunks(&[PART_SIZE + 10, PART_SIZE - 20, 13]), "k".into());
        let (mut sizes, mut all, mut spare) = (Vec::new(), Vec::new(), BytesMut::new());
        loop {
            let (part, ended) = reader.next_part(spare).await.unwrap();
            sizes.push(part.len());
            all.extend_from_slice(&part);
            if ended {
                break;
            }
            spare = reuse(part);
            assert!(spare.capacity() >= PART_SIZE, "the buffer is reused");
        }
        assert_eq!(sizes, [PART_SIZE, PART_SIZE, 3]);
        assert_eq!(all.len(), total);
        assert_eq!(all[PART_SIZE + 9], 0);
        assert_eq!(all[PART_SIZE + 10], 1);
        assert_eq!(all[total - 1], 2);
    }

    #[tokio::test]
    async fn a_stream_error_is_an_error_not_an_end() {
        let items: Vec<std::io::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("connection reset")),
        ];
        let mut reader = PartReader::new(Box::pin(stream::iter(items)), "runners/v1.0.0/x".into());
        let err = reader.next_part(BytesMut::new()).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { location, .. } if location == "runners/v1.0.0/x"),
            "{err}"
        );
    }
}

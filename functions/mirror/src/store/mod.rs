//! The ports the use cases talk to: where channel config, state, the decision log and the
//! release cache live ([`StateStore`]) and where artifacts live ([`ArtifactStore`]). The local
//! directory store implements both; the AWS stores will too.

mod aws;
mod cached;
mod dynamodb;
pub(crate) mod local;
mod s3;

pub use aws::{caller_identity, sdk_config};
pub use cached::CachedState;
pub use dynamodb::DynamoStore;
pub use local::LocalStore;
pub use s3::S3Store;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use policy::{Artifact, ChannelConfig, ConfigDocument, Sha256};

use crate::github::ReleaseCache;
use crate::names::{ArtifactKey, ChannelName};
use crate::state::{ChannelState, LogEntry};
use crate::verify::ByteStream;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location}: {cause}")]
    Io { location: String, cause: io::Error },
    /// A stored document that does not parse; `detail` names the field.
    #[error("{location} is corrupt: {detail}")]
    Corrupt { location: String, detail: String },
    #[error("{location}: {cause}")]
    Config {
        location: String,
        cause: policy::ConfigError,
    },
    #[error("channel {channel} changed concurrently (it is at revision {found}, this evaluation started from {expected}); nothing was written")]
    Conflict {
        channel: ChannelName,
        expected: u64,
        found: u64,
    },
    #[error("{key} already holds a different file; artifacts are never overwritten (remove it to have it copied again)")]
    Occupied { key: ArtifactKey },
    #[error("{key} is not in the store")]
    Missing { key: ArtifactKey },
    /// A store resource that cannot serve: a table or bucket of the wrong shape.
    #[error("{resource}: {problem}")]
    Setup { resource: String, problem: String },
    /// An AWS call failed; `code` and `request_id` are what AWS support asks for.
    #[error("{operation} on {resource} failed: {code}: {message}{}", request_id_text(.request_id))]
    Aws {
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
        request_id: Option<String>,
    },
}

fn request_id_text(request_id: &Option<String>) -> String {
    request_id
        .as_ref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

#[async_trait]
pub trait StateStore: Send + Sync {
    /// The channels that have a config or a state, in name order.
    async fn channels(&self) -> Result<Vec<ChannelName>, StoreError>;

    /// The channel's config document as stored, the one an operator edits; empty when the
    /// channel has none. A document of the wrong shape is [`StoreError::Config`].
    async fn config_document(&self, channel: &ChannelName) -> Result<ConfigDocument, StoreError>;

    /// Replaces the channel's config document. Callers validate it first.
    async fn save_config(
        &self,
        channel: &ChannelName,
        document: &ConfigDocument,
    ) -> Result<(), StoreError>;

    /// Where the channel's config lives, for messages: a file, or a table item.
    fn config_location(&self, channel: &ChannelName) -> String;

    /// The channel's validated config; the defaults when it has none.
    async fn config(&self, channel: &ChannelName) -> Result<ChannelConfig, StoreError> {
        let document = self.config_document(channel).await?;
        ChannelConfig::from_document(document).map_err(|cause| StoreError::Config {
            location: self.config_location(channel),
            cause,
        })
    }

    /// The channel's state; an empty state at revision 0 when it has none.
    async fn state(&self, channel: &ChannelName) -> Result<ChannelState, StoreError>;

    /// Writes `state`, whose revision must be one more than the stored one; otherwise
    /// [`StoreError::Conflict`] and nothing is written.
    async fn commit(&self, channel: &ChannelName, state: &ChannelState) -> Result<(), StoreError>;

    /// Appends to the channel's decision log.
    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError>;

    /// The newest `limit` entries of the channel's decision log, newest first.
    async fn log(&self, channel: &ChannelName, limit: usize) -> Result<Vec<LogEntry>, StoreError>;

    async fn release_cache(&self) -> Result<Option<ReleaseCache>, StoreError>;

    async fn save_release_cache(&self, cache: &ReleaseCache) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Whether `key` holds exactly the file with this SHA-256.
    async fn has(&self, key: &ArtifactKey, sha256: &Sha256) -> Result<bool, StoreError>;

    /// Stores `body` under `key`. The artifact becomes visible only if `body` ends without
    /// error (the caller passes a [`crate::verify::verified`] stream); on any error nothing is
    /// left behind. An existing key is never overwritten.
    /// `artifact` says what the body must be (size, SHA-256) and where it came from; stores
    /// keep the SHA-256 and the source with the object.
    async fn put(
        &self,
        key: &ArtifactKey,
        artifact: &Artifact,
        body: ByteStream,
    ) -> Result<(), StoreError>;

    /// Where a runner downloads the artifact from (for S3, a short-lived presigned URL).
    async fn download_url(&self, key: &ArtifactKey) -> Result<String, StoreError>;

    /// Copies the artifact to the channel's fixed key ([`ArtifactKey::channel_copy`]),
    /// replacing the previous copy.
    async fn copy_to_channel(
        &self,
        channel: &ChannelName,
        key: &ArtifactKey,
    ) -> Result<(), StoreError>;
}

/// The stores an application works on, behind their ports: the local directory, or DynamoDB
/// and S3.
pub struct Stores {
    pub state: Arc<dyn StateStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
    /// The local store, whose artifacts a local server streams itself; none on AWS.
    pub local: Option<Arc<LocalStore>>,
    /// Which stores these are, for people.
    pub name: String,
}

impl Stores {
    pub fn local(root: impl Into<PathBuf>) -> Stores {
        let local = Arc::new(LocalStore::new(root));
        Stores {
            state: local.clone(),
            artifacts: local.clone(),
            name: format!("local store {}", local.root().display()),
            local: Some(local),
        }
    }

    /// DynamoDB and S3, configured from the environment the way AWS tools are; both are
    /// checked before this returns.
    pub async fn aws(table: &str, bucket: &str) -> Result<Stores, StoreError> {
        let config = sdk_config().await;
        let state = DynamoStore::new(&config, table).await?;
        let artifacts = S3Store::new(&config, bucket).await?;
        Ok(Stores {
            state: Arc::new(state),
            artifacts: Arc::new(artifacts),
            local: None,
            name: format!("DynamoDB table {table} and S3 bucket {bucket}"),
        })
    }
}

//! The ports the use cases talk to: where channel config, state, the decision log and the
//! release cache live ([`StateStore`]) and where artifacts live ([`ArtifactStore`]). The local
//! directory store implements both; the AWS stores will too.

pub(crate) mod local;

pub use local::LocalStore;

use std::io;

use async_trait::async_trait;
use policy::{ChannelConfig, Sha256};

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
}

#[async_trait]
pub trait StateStore: Send + Sync {
    /// The channels that have a config or a state, in name order.
    async fn channels(&self) -> Result<Vec<ChannelName>, StoreError>;

    /// The channel's config; the defaults when it has none.
    async fn config(&self, channel: &ChannelName) -> Result<ChannelConfig, StoreError>;

    /// The channel's state; an empty state at revision 0 when it has none.
    async fn state(&self, channel: &ChannelName) -> Result<ChannelState, StoreError>;

    /// Writes `state`, whose revision must be one more than the stored one; otherwise
    /// [`StoreError::Conflict`] and nothing is written.
    async fn commit(&self, channel: &ChannelName, state: &ChannelState) -> Result<(), StoreError>;

    /// Appends to the channel's decision log.
    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError>;

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
    async fn put(&self, key: &ArtifactKey, body: ByteStream) -> Result<(), StoreError>;

    /// Where a runner downloads the artifact from (for S3, a short-lived presigned URL).
    async fn download_url(&self, key: &ArtifactKey) -> Result<String, StoreError>;
}

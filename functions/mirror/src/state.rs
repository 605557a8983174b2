//! What a channel remembers between evaluations, and the entries of its decision log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use policy::{DecisionRecord, Platform, Sha256, Version};
use serde::{Deserialize, Serialize};

use crate::names::{ArtifactKey, ChannelName};

/// A channel's state. `revision` grows by one with every commit; a store only accepts a commit
/// made from the revision it holds, so two racing evaluations cannot both win.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelState {
    pub revision: u64,
    /// The approved version and its verified artifacts; none until the first success.
    pub approved: Option<Approved>,
    /// The record of the last evaluation that succeeded.
    pub last_decision: Option<DecisionRecord>,
    /// The last evaluation that failed, until one succeeds.
    pub last_failure: Option<Failure>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approved {
    pub version: Version,
    pub approved_at: DateTime<Utc>,
    pub artifacts: BTreeMap<Platform, StoredArtifact>,
}

/// An artifact the store holds, verified when it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredArtifact {
    pub key: ArtifactKey,
    pub sha256: Sha256,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub at: DateTime<Utc>,
    pub error: String,
}

/// One entry of a channel's decision log: an evaluation that changed the approved version or
/// failed, or an operator's change of the config. Append-only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub channel: ChannelName,
    pub at: DateTime<Utc>,
    /// The decision, when the policy got as far as deciding.
    pub decision: Option<DecisionRecord>,
    /// Why the evaluation failed, if it did.
    pub error: Option<String>,
    /// An operator's change, with who made it.
    #[serde(default)]
    pub change: Option<String>,
}

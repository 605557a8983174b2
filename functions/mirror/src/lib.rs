//! The mirror around the policy: its ports and adapters, and the two use cases.
//!
//! - [`GithubSource`] lists releases through the GitHub REST API and downloads assets as
//!   streams that [`verify`] checks against the release's SHA-256.
//! - [`StateStore`] and [`ArtifactStore`] are the ports for channel config, state, decision log
//!   and artifacts; [`LocalStore`] is the embedded implementation (a directory).
//! - [`Mirror::evaluate`] decides and mirrors one channel; [`routes::respond`] resolves the
//!   redirect routes for runners.
//!
//! The policy itself is the `policy` crate; this crate adds I/O and nothing clever.

mod evaluate;
mod github;
mod names;
mod operate;
pub mod routes;
mod state;
mod store;
pub mod verify;

pub use evaluate::{EvaluateError, Evaluated, Mirror};
pub use github::{
    CachedPage, GithubConfig, GithubSource, Listing, ReleaseCache, SourceError, Token, DEFAULT_API,
    DEFAULT_REPO,
};
pub use names::{ArtifactKey, ChannelName, ChannelNameError};
pub use operate::{change_config, Change, Changed, OperateError, Parameter};
pub use state::{Approved, ChannelState, Failure, LogEntry, StoredArtifact};
pub use store::local::ARTIFACT_ROUTE;
pub use store::{
    caller_identity, sdk_config, ArtifactStore, CachedState, DynamoStore, LocalStore, S3Store,
    StateStore, StoreError, Stores,
};

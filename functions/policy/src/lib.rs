//! The approval policy of runner-mirror, as a pure function: given the releases of
//! `actions/runner`, the time, the previously approved version and a channel's configuration,
//! [`decide`] returns a [`DecisionRecord`] that says which version runners get and why.
//!
//! This crate owns the contract of `SPEC-policy.md`: [`Version`] and [`Release`], the
//! checksum rules of an [`Artifact`], the [`Policy`] parameters and [`Overrides`], the five
//! [`Rule`]s relaxed in order, the decision record with its `cutoff` and `next_change`, and the
//! [`replay`] of a history. It also parses release lists from text ([`parse_releases`]).
//!
//! It does no I/O and reads no clock: `now` is always an argument, so every decision can be
//! replayed and tested.

mod artifact;
mod config;
mod decide;
mod input;
mod record;
mod release;
mod replay;
mod version;

pub use artifact::{
    body_markers, Artifact, ArtifactProblem, Asset, Platform, PlatformError, Sha256, Sha256Error,
    ShaClaim,
};
pub use config::{
    days, in_days, parse_duration, show_days, Block, BlockDocument, ChannelConfig, ConfigDocument,
    ConfigError, DurationError, Freeze, Overrides, Pin, Policy, PolicyError,
};
pub use decide::{decide, AssetCheck, Evaluation, Rule};
pub use input::{parse_github_json, parse_releases, parse_tsv, InputError};
pub use record::{
    rfc3339, DecidedBy, DecisionError, DecisionRecord, DropReason, Dropped, Outcome, OverrideNote,
    OverrideReport, Parameters, PinProblem, RuleOutcome, RuleStatus, Warning,
};
pub use release::{Release, ReleaseList, SkipReason, SkippedRelease};
pub use replay::{replay, Schedule, ScheduleError, Summary};
pub use version::{Version, VersionError};

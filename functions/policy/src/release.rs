use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::artifact::{resolve_artifact, Artifact, ArtifactProblem, Asset, Platform, ShaClaim};
use crate::{Version, VersionError};

/// One published release of `actions/runner`, as far as the policy cares.
///
/// Drafts never get here: they are not visible, so the parser reports and drops them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub version: Version,
    pub published_at: DateTime<Utc>,
    pub prerelease: bool,
    /// The full runner package of each platform the release ships.
    pub assets: BTreeMap<Platform, Asset>,
    /// The SHA-256 markers of the release body, per platform.
    pub markers: BTreeMap<Platform, ShaClaim>,
}

impl Release {
    /// A release known only by version and date (the TSV history, simulations, tests).
    pub fn new(version: Version, published_at: DateTime<Utc>, prerelease: bool) -> Self {
        Release {
            version,
            published_at,
            prerelease,
            assets: BTreeMap::new(),
            markers: BTreeMap::new(),
        }
    }

    /// The file a platform downloads and the SHA-256 it must have.
    pub fn artifact(&self, platform: Platform) -> Result<Artifact, ArtifactProblem> {
        resolve_artifact(platform, &self.version, &self.assets, &self.markers)
    }
}

/// A release left out of a list, with the reason; reported in every decision record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRelease {
    pub tag: String,
    pub reason: SkipReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum SkipReason {
    #[error("{0}")]
    BadTag(String),
    #[error("draft release (not published)")]
    Draft,
    #[error("no published_at")]
    NoPublishedAt,
    #[error("published_at {0:?} is not an RFC 3339 time")]
    BadPublishedAt(String),
    #[error("another release already has version {0}")]
    DuplicateVersion(Version),
}

impl From<VersionError> for SkipReason {
    fn from(e: VersionError) -> Self {
        SkipReason::BadTag(e.to_string())
    }
}

/// The releases an evaluation works from, sorted by version, each version once, with the
/// releases that had to be left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReleaseList {
    releases: Vec<Release>,
    skipped: Vec<SkippedRelease>,
}

impl ReleaseList {
    /// Sorts by version and keeps the first release of each version (pages fetched while a
    /// release is published can repeat one); a later one is reported as skipped.
    pub fn new(releases: Vec<Release>, mut skipped: Vec<SkippedRelease>) -> Self {
        let mut unique: Vec<Release> = Vec::with_capacity(releases.len());
        let mut seen = std::collections::BTreeSet::new();
        for release in releases {
            if seen.insert(release.version.clone()) {
                unique.push(release);
            } else {
                skipped.push(SkippedRelease {
                    tag: release.version.tag(),
                    reason: SkipReason::DuplicateVersion(release.version),
                });
            }
        }
        unique.sort_by(|a, b| a.version.cmp(&b.version));
        ReleaseList {
            releases: unique,
            skipped,
        }
    }

    /// Releases in ascending version order.
    pub fn releases(&self) -> &[Release] {
        &self.releases
    }

    pub fn skipped(&self) -> &[SkippedRelease] {
        &self.skipped
    }

    pub fn get(&self, version: &Version) -> Option<&Release> {
        self.releases
            .binary_search_by(|r| r.version.cmp(version))
            .ok()
            .map(|i| &self.releases[i])
    }
}

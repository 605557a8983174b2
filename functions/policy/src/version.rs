use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A runner version, parsed once from a release tag such as `v2.316.1` or `2.316.1`.
///
/// Ordering is semver precedence, which is what "higher version" means in the SPEC.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(semver::Version);

/// A tag that is not a runner version; it names the tag so the operator can find the release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{tag}` is not a runner version (expected MAJOR.MINOR.PATCH, optionally with a leading `v`): {reason}")]
pub struct VersionError {
    pub tag: String,
    pub reason: String,
}

impl Version {
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version(semver::Version::new(major, minor, patch))
    }

    /// True when both versions belong to the same `major.minor` line (rule 3, latest_patch).
    pub fn same_minor(&self, other: &Version) -> bool {
        self.0.major == other.0.major && self.0.minor == other.0.minor
    }

    /// The tag GitHub uses for this version, as in download URLs: `v2.316.1`.
    pub fn tag(&self) -> String {
        format!("v{}", self.0)
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(tag: &str) -> Result<Self, Self::Err> {
        let bare = tag.strip_prefix('v').unwrap_or(tag);
        semver::Version::parse(bare)
            .map(Version)
            .map_err(|e| VersionError {
                tag: tag.to_owned(),
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_and_without_v_are_the_same_version() {
        let a: Version = "v2.316.1".parse().unwrap();
        let b: Version = "2.316.1".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2.316.1");
        assert_eq!(a.tag(), "v2.316.1");
    }

    #[test]
    fn order_is_semver_not_text() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(v("2.300.0") > v("2.299.2"));
        assert!(v("2.10.0") > v("2.9.9"));
        assert!(v("3.0.0") > v("2.999.999"));
    }

    #[test]
    fn same_minor_compares_major_and_minor_only() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(v("2.316.0").same_minor(&v("2.316.1")));
        assert!(!v("2.316.1").same_minor(&v("2.317.0")));
        assert!(!v("2.316.1").same_minor(&v("3.316.1")));
    }

    #[test]
    fn bad_tags_are_named_in_the_error() {
        for tag in [
            "",
            "v",
            "latest",
            "v2.316",
            "2.316.1.4",
            "V2.316.1",
            "v 2.1.0",
        ] {
            let err = tag.parse::<Version>().unwrap_err();
            assert_eq!(err.tag, tag);
            assert!(
                err.to_string().contains(&format!("`{tag}`")),
                "error should name the tag: {err}"
            );
        }
    }

    #[test]
    fn serde_uses_the_plain_text_form() {
        let v: Version = "v2.1.0".parse().unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"2.1.0\"");
        let back: Version = serde_json::from_str("\"v2.1.0\"").unwrap();
        assert_eq!(back, v);
        assert!(serde_json::from_str::<Version>("\"nope\"").is_err());
    }
}

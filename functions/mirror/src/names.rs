//! The names the mirror builds keys and routes from, each validated once: a request or a
//! config can never smuggle a path separator or an arbitrary key through them.

use std::fmt;
use std::str::FromStr;

use policy::{Platform, Version};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A channel: a named stream of approvals with its own config and state (`stable`, `canary`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a channel name (1 to 32 characters: lower-case letters, digits and `-`, starting with a letter)")]
pub struct ChannelNameError {
    pub name: String,
}

impl ChannelName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ChannelName {
    fn default() -> Self {
        ChannelName("stable".to_owned())
    }
}

impl FromStr for ChannelName {
    type Err = ChannelNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let valid = (1..=32).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(ChannelName(name.to_owned()))
        } else {
            Err(ChannelNameError {
                name: name.to_owned(),
            })
        }
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ChannelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Where an artifact lives in a store: `runners/v<V>/<asset name>`, the same key in S3 and
/// in the local store. It is only ever built from a version and a platform, so it can only
/// name a runner package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactKey {
    version: Version,
    platform: Platform,
}

impl ArtifactKey {
    pub fn new(version: Version, platform: Platform) -> Self {
        ArtifactKey { version, platform }
    }

    pub fn version(&self) -> &Version {
        &self.version
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn asset_name(&self) -> String {
        self.platform.asset_name(&self.version)
    }

    /// The fixed key of the channel's copy: `channels/<channel>/<asset name without its
    /// version>`, e.g. `channels/stable/actions-runner-linux-x64.tar.gz`, the layout runners
    /// that `aws s3 cp` with an instance role expect.
    pub fn channel_copy(&self, channel: &ChannelName) -> String {
        let fixed = self
            .asset_name()
            .replacen(&format!("-{}.", self.version), ".", 1);
        format!("channels/{channel}/{fixed}")
    }

    /// Reads a key back from its text form; only the exact form [`ArtifactKey::new`] writes is
    /// accepted, so `runners/v2.1.0/../../etc/passwd` or a different asset is `None`.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix("runners/v")?;
        let (version, name) = rest.split_once('/')?;
        let version: Version = version.parse().ok()?;
        let platform = policy::Platform::ALL
            .into_iter()
            .find(|p| p.asset_name(&version) == name)?;
        let parsed = ArtifactKey::new(version, platform);
        (parsed.to_string() == key).then_some(parsed)
    }
}

impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "runners/v{}/{}", self.version, self.asset_name())
    }
}

impl Serialize for ArtifactKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ArtifactKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ArtifactKey::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an artifact key")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names() {
        for good in ["stable", "canary", "team-a", "s1"] {
            assert_eq!(good.parse::<ChannelName>().unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Stable",
            "1st",
            "a/b",
            "..",
            "a.b",
            "_artifacts",
            &"a".repeat(33),
        ] {
            let err = bad.parse::<ChannelName>().unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")));
        }
    }

    #[test]
    fn channel_keys_drop_the_version_and_keep_the_extension() {
        let stable: ChannelName = "stable".parse().unwrap();
        let v = Version::new(2, 316, 1);
        let expected = [
            (Platform::LinuxX64, "actions-runner-linux-x64.tar.gz"),
            (Platform::LinuxArm64, "actions-runner-linux-arm64.tar.gz"),
            (Platform::LinuxArm, "actions-runner-linux-arm.tar.gz"),
            (Platform::OsxX64, "actions-runner-osx-x64.tar.gz"),
            (Platform::OsxArm64, "actions-runner-osx-arm64.tar.gz"),
            (Platform::WinX64, "actions-runner-win-x64.zip"),
            (Platform::WinArm64, "actions-runner-win-arm64.zip"),
        ];
        for (platform, name) in expected {
            let key = ArtifactKey::new(v.clone(), platform);
            assert_eq!(key.channel_copy(&stable), format!("channels/stable/{name}"));
        }
    }

    #[test]
    fn artifact_keys_round_trip_and_reject_anything_else() {
        let key = ArtifactKey::new(Version::new(2, 316, 1), Platform::LinuxX64);
        let text = "runners/v2.316.1/actions-runner-linux-x64-2.316.1.tar.gz";
        assert_eq!(key.to_string(), text);
        assert_eq!(ArtifactKey::parse(text), Some(key));
        let win = ArtifactKey::new(Version::new(2, 316, 1), Platform::WinArm64);
        assert_eq!(ArtifactKey::parse(&win.to_string()), Some(win));
        for bad in [
            "runners/v2.316.1/actions-runner-linux-x64-2.316.0.tar.gz",
            "runners/2.316.1/actions-runner-linux-x64-2.316.1.tar.gz",
            "runners/v2.316.1/../../state/stable.json",
            "runners/v2.316.1/actions-runner-linux-x64-2.316.1.tar.gz/x",
            "runners/v02.316.1/actions-runner-linux-x64-02.316.1.tar.gz",
            "/runners/v2.316.1/actions-runner-linux-x64-2.316.1.tar.gz",
            "state/stable.json",
        ] {
            assert_eq!(ArtifactKey::parse(bad), None, "{bad}");
        }
    }
}

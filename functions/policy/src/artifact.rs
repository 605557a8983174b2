//! Platforms, asset names and SHA-256 checksums: the one place that decides which file of a
//! release a platform gets and which checksum it must have.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Version;

/// A SHA-256 digest: always exactly 32 bytes, so a truncated or placeholder value cannot exist.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a SHA-256 (expected exactly 64 hex characters)")]
pub struct Sha256Error {
    pub text: String,
}

impl Sha256 {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Sha256 {
    type Err = Sha256Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        // `decode_to_slice` insists on exactly 64 hex digits for 32 bytes.
        hex::decode_to_slice(text, &mut bytes).map_err(|_| Sha256Error {
            text: text.to_owned(),
        })?;
        Ok(Sha256(bytes))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The seven platforms `actions/runner` ships a full runner package for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Platform {
    #[serde(rename = "linux-x64")]
    LinuxX64,
    #[serde(rename = "linux-arm64")]
    LinuxArm64,
    #[serde(rename = "linux-arm")]
    LinuxArm,
    #[serde(rename = "osx-x64")]
    OsxX64,
    #[serde(rename = "osx-arm64")]
    OsxArm64,
    #[serde(rename = "win-x64")]
    WinX64,
    #[serde(rename = "win-arm64")]
    WinArm64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{name}` (expected one of linux-x64, linux-arm64, linux-arm, osx-x64, osx-arm64, win-x64, win-arm64)")]
pub struct PlatformError {
    pub name: String,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::LinuxX64,
        Platform::LinuxArm64,
        Platform::LinuxArm,
        Platform::OsxX64,
        Platform::OsxArm64,
        Platform::WinX64,
        Platform::WinArm64,
    ];

    /// The platform's name as GitHub writes it in asset names and checksum markers.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::LinuxX64 => "linux-x64",
            Platform::LinuxArm64 => "linux-arm64",
            Platform::LinuxArm => "linux-arm",
            Platform::OsxX64 => "osx-x64",
            Platform::OsxArm64 => "osx-arm64",
            Platform::WinX64 => "win-x64",
            Platform::WinArm64 => "win-arm64",
        }
    }

    /// The full runner package's asset name, e.g. `actions-runner-linux-x64-2.316.1.tar.gz`.
    pub fn asset_name(self, version: &Version) -> String {
        let extension = match self {
            Platform::WinX64 | Platform::WinArm64 => "zip",
            _ => "tar.gz",
        };
        format!("actions-runner-{}-{version}.{extension}", self.as_str())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| PlatformError {
                name: name.to_owned(),
            })
    }
}

/// What one place of a release (the asset's `digest`, or the body's marker) claims a file's
/// SHA-256 is. Anything but exactly 64 hex characters counts as missing; the text is kept so
/// the decision record can show what was there (GitHub once shipped a placeholder).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "value")]
pub enum ShaClaim {
    Absent,
    Malformed(String),
    Valid(Sha256),
}

impl ShaClaim {
    /// The asset `digest` field: `sha256:<hex>`, or null for assets uploaded before mid 2025.
    pub fn from_digest(digest: Option<&str>) -> Self {
        match digest {
            None => ShaClaim::Absent,
            Some(text) => match text.strip_prefix("sha256:").map(str::parse) {
                Some(Ok(sha)) => ShaClaim::Valid(sha),
                _ => ShaClaim::Malformed(text.to_owned()),
            },
        }
    }

    fn from_marker(text: &str) -> Self {
        let text = text.trim();
        match text.parse() {
            Ok(sha) => ShaClaim::Valid(sha),
            Err(_) => ShaClaim::Malformed(text.to_owned()),
        }
    }

    fn valid(&self) -> Option<Sha256> {
        match self {
            ShaClaim::Valid(sha) => Some(*sha),
            _ => None,
        }
    }
}

impl fmt::Display for ShaClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShaClaim::Absent => f.write_str("absent"),
            ShaClaim::Malformed(text) => {
                let shown: String = text.chars().take(80).collect();
                write!(f, "{shown:?}, not a SHA-256")
            }
            ShaClaim::Valid(sha) => write!(f, "{sha}"),
        }
    }
}

/// The checksum markers of a release body, one per full-package platform:
/// `<!-- BEGIN SHA linux-x64 -->HEX<!-- END SHA linux-x64 -->`. Markers of the package
/// variants (`linux-x64_noexternals`) and of unknown platforms are ignored.
pub fn body_markers(body: &str) -> BTreeMap<Platform, ShaClaim> {
    const BEGIN: &str = "<!-- BEGIN SHA ";
    const CLOSE: &str = " -->";
    let mut markers = BTreeMap::new();
    let mut rest = body;
    while let Some(start) = rest.find(BEGIN) {
        rest = &rest[start + BEGIN.len()..];
        let Some(label_end) = rest.find(CLOSE) else {
            break;
        };
        let label = &rest[..label_end];
        let after_label = &rest[label_end + CLOSE.len()..];
        let end = format!("<!-- END SHA {label}{CLOSE}");
        let Some(value_end) = after_label.find(&end) else {
            continue;
        };
        if let Ok(platform) = label.parse::<Platform>() {
            markers.insert(platform, ShaClaim::from_marker(&after_label[..value_end]));
        }
        rest = &after_label[value_end + end.len()..];
    }
    markers
}

/// One downloadable file of a release, as GitHub lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub name: String,
    pub size: u64,
    pub download_url: String,
    pub digest: ShaClaim,
}

/// A platform's file with the SHA-256 it must hash to: what the mirror downloads and checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub platform: Platform,
    pub name: String,
    pub size: u64,
    pub download_url: String,
    pub sha256: Sha256,
}

/// Why a release has no verifiable artifact for a platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum ArtifactProblem {
    #[error("no asset named {name}")]
    NoAsset { name: String },
    #[error("no verifiable SHA-256 for {name}: asset digest {digest}, body marker {marker}")]
    NoChecksum {
        name: String,
        digest: ShaClaim,
        marker: ShaClaim,
    },
    #[error("SHA-256 of {name} disagrees: asset digest {digest}, body marker {marker}")]
    Disagree {
        name: String,
        digest: Sha256,
        marker: Sha256,
    },
}

/// Chooses the checksum a platform's asset must match: the asset's digest when present, else
/// the body marker; when both are present they must agree.
pub(crate) fn resolve_artifact(
    platform: Platform,
    version: &Version,
    assets: &BTreeMap<Platform, Asset>,
    markers: &BTreeMap<Platform, ShaClaim>,
) -> Result<Artifact, ArtifactProblem> {
    let name = platform.asset_name(version);
    let Some(asset) = assets.get(&platform) else {
        return Err(ArtifactProblem::NoAsset { name });
    };
    let marker = markers.get(&platform).cloned().unwrap_or(ShaClaim::Absent);
    let sha256 = match (asset.digest.valid(), marker.valid()) {
        (Some(digest), Some(marker)) if digest != marker => {
            return Err(ArtifactProblem::Disagree {
                name,
                digest,
                marker,
            })
        }
        (Some(sha), _) | (None, Some(sha)) => sha,
        (None, None) => {
            return Err(ArtifactProblem::NoChecksum {
                name,
                digest: asset.digest.clone(),
                marker,
            })
        }
    };
    Ok(Artifact {
        platform,
        name: asset.name.clone(),
        size: asset.size,
        download_url: asset.download_url.clone(),
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "34a8f34956cdacd2156d4c658cce8dd54c5aef316a16bbbc95eb3ca4fd76429a";
    const B: &str = "0297855418398e0efcc487fe3dc581469c38534252f713fba22a603037eaa6b0";

    #[test]
    fn sha256_needs_exactly_64_hex_characters() {
        assert_eq!(A.parse::<Sha256>().unwrap().to_string(), A);
        assert_eq!(
            A.to_uppercase().parse::<Sha256>().unwrap().to_string(),
            A,
            "upper case hex is the same digest"
        );
        for bad in [
            "",
            &A[..63],
            &format!("{A}0"),
            &A.replace('a', "g"),
            "<HASH>",
        ] {
            assert!(bad.parse::<Sha256>().is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn platforms_round_trip_and_name_assets() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
        }
        let v = Version::new(2, 316, 1);
        assert_eq!(
            Platform::LinuxX64.asset_name(&v),
            "actions-runner-linux-x64-2.316.1.tar.gz"
        );
        assert_eq!(
            Platform::WinArm64.asset_name(&v),
            "actions-runner-win-arm64-2.316.1.zip"
        );
        let err = "linux-x86".parse::<Platform>().unwrap_err();
        assert!(err.to_string().contains("`linux-x86`"));
    }

    #[test]
    fn digest_field_forms() {
        assert_eq!(ShaClaim::from_digest(None), ShaClaim::Absent);
        assert_eq!(
            ShaClaim::from_digest(Some(&format!("sha256:{A}"))),
            ShaClaim::Valid(A.parse().unwrap())
        );
        assert!(matches!(
            ShaClaim::from_digest(Some(&format!("sha512:{A}"))),
            ShaClaim::Malformed(_)
        ));
        assert!(matches!(
            ShaClaim::from_digest(Some(A)),
            ShaClaim::Malformed(_)
        ));
    }

    #[test]
    fn markers_keep_full_packages_and_flag_placeholders() {
        let body = format!(
            "intro\n<!-- BEGIN SHA linux-x64 -->{A}<!-- END SHA linux-x64 -->\n\
             <!-- BEGIN SHA linux-x64_noexternals -->{B}<!-- END SHA linux-x64_noexternals -->\n\
             <!-- BEGIN SHA win-arm64 --><WIN_ARM64_SHA><!-- END SHA win-arm64 -->\n\
             <!-- BEGIN SHA linux-arm64 --> {B}\n<!-- END SHA linux-arm64 -->\n\
             <!-- BEGIN SHA osx-x64 -->{A}"
        );
        let markers = body_markers(&body);
        assert_eq!(
            markers[&Platform::LinuxX64],
            ShaClaim::Valid(A.parse().unwrap())
        );
        assert_eq!(
            markers[&Platform::LinuxArm64],
            ShaClaim::Valid(B.parse().unwrap()),
            "white space around the hash is not part of it"
        );
        assert_eq!(
            markers[&Platform::WinArm64],
            ShaClaim::Malformed("<WIN_ARM64_SHA>".into())
        );
        assert!(
            !markers.contains_key(&Platform::OsxX64),
            "an unterminated marker is no marker"
        );
        assert_eq!(markers.len(), 3);
    }

    fn asset(digest: ShaClaim) -> BTreeMap<Platform, Asset> {
        BTreeMap::from([(
            Platform::LinuxX64,
            Asset {
                name: "actions-runner-linux-x64-2.1.0.tar.gz".into(),
                size: 10,
                download_url: "https://example.invalid/a".into(),
                digest,
            },
        )])
    }

    fn marker(claim: ShaClaim) -> BTreeMap<Platform, ShaClaim> {
        BTreeMap::from([(Platform::LinuxX64, claim)])
    }

    #[test]
    fn artifact_checksum_precedence() {
        let v = Version::new(2, 1, 0);
        let a = ShaClaim::Valid(A.parse().unwrap());
        let b = ShaClaim::Valid(B.parse().unwrap());
        let resolve = |assets, markers| resolve_artifact(Platform::LinuxX64, &v, &assets, &markers);

        let digest_only = resolve(asset(a.clone()), BTreeMap::new()).unwrap();
        assert_eq!(digest_only.sha256.to_string(), A);
        let marker_only = resolve(asset(ShaClaim::Absent), marker(b.clone())).unwrap();
        assert_eq!(marker_only.sha256.to_string(), B);
        let agree = resolve(asset(a.clone()), marker(a.clone())).unwrap();
        assert_eq!(agree.sha256.to_string(), A);
        let malformed_digest = resolve(asset(ShaClaim::Malformed("x".into())), marker(b.clone()));
        assert_eq!(malformed_digest.unwrap().sha256.to_string(), B);

        assert!(matches!(
            resolve(asset(a), marker(b)),
            Err(ArtifactProblem::Disagree { .. })
        ));
        let none = resolve(
            asset(ShaClaim::Absent),
            marker(ShaClaim::Malformed("<HASH>".into())),
        )
        .unwrap_err();
        assert!(
            none.to_string().contains("\"<HASH>\", not a SHA-256"),
            "{none}"
        );
        assert!(matches!(
            resolve(BTreeMap::new(), BTreeMap::new()),
            Err(ArtifactProblem::NoAsset { .. })
        ));
    }
}

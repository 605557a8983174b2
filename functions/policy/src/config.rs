//! A channel's configuration: the policy parameters and the operator's overrides, and the flat
//! document form an operator edits (the local config file, and later the DynamoDB `CONFIG` item,
//! use the same attribute names).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::artifact::Platform;
use crate::Version;

/// The policy parameters of one channel, validated: `0 <= min_age <= soak` and
/// `min_age < support_window`, and at least one platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    min_age: TimeDelta,
    support_window: TimeDelta,
    soak: TimeDelta,
    platforms: Vec<Platform>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{name} must not be negative (got {})", days(*.value))]
    Negative {
        name: &'static str,
        value: TimeDelta,
    },
    #[error("min_age ({}) must not exceed soak ({})", days(*.min_age), days(*.soak))]
    MinAgeAboveSoak { min_age: TimeDelta, soak: TimeDelta },
    #[error("min_age ({}) must be shorter than support_window ({})", days(*.min_age), days(*.support_window))]
    MinAgeNotInsideWindow {
        min_age: TimeDelta,
        support_window: TimeDelta,
    },
    #[error("at least one platform is needed")]
    NoPlatforms,
}

impl Policy {
    pub fn new(
        min_age: TimeDelta,
        support_window: TimeDelta,
        soak: TimeDelta,
        platforms: Vec<Platform>,
    ) -> Result<Self, PolicyError> {
        for (name, value) in [
            ("min_age", min_age),
            ("support_window", support_window),
            ("soak", soak),
        ] {
            if value < TimeDelta::zero() {
                return Err(PolicyError::Negative { name, value });
            }
        }
        if min_age > soak {
            return Err(PolicyError::MinAgeAboveSoak { min_age, soak });
        }
        if min_age >= support_window {
            return Err(PolicyError::MinAgeNotInsideWindow {
                min_age,
                support_window,
            });
        }
        let mut platforms = platforms;
        platforms.sort();
        platforms.dedup();
        if platforms.is_empty() {
            return Err(PolicyError::NoPlatforms);
        }
        Ok(Policy {
            min_age,
            support_window,
            soak,
            platforms,
        })
    }

    /// Time for GitHub to notice and pull a malicious release (X).
    pub fn min_age(&self) -> TimeDelta {
        self.min_age
    }

    /// GitHub's acceptance window after a newer release (W).
    pub fn support_window(&self) -> TimeDelta {
        self.support_window
    }

    /// Time for GitHub to ship a fix for a bug (S).
    pub fn soak(&self) -> TimeDelta {
        self.soak
    }

    /// The platforms to mirror; every one needs a verifiable artifact.
    pub fn platforms(&self) -> &[Platform] {
        &self.platforms
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_age: TimeDelta::days(3),
            support_window: TimeDelta::days(30),
            soak: TimeDelta::days(7),
            platforms: vec![Platform::LinuxX64, Platform::LinuxArm64],
        }
    }
}

/// A duration as a (fractional) number of days, the unit of every policy parameter.
pub fn in_days(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 86_400_000.0
}

/// Formats a duration in days the way the SPEC speaks of them: `3 days`, `3.4 days`.
pub fn days(d: TimeDelta) -> String {
    show_days(in_days(d))
}

/// Formats a number of days to a tenth: `3 days`, `3.4 days`, `1 day`.
pub fn show_days(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == 1.0 {
        "1 day".to_owned()
    } else {
        format!("{rounded} days")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a duration (expected days such as 3 or 1.5, or a span such as 72h or 2d 12h)"
)]
pub struct DurationError {
    pub text: String,
}

/// Parses a duration as an operator types it: a number of days (`3`, `0.5`) or a span (`72h`,
/// `2d 12h`, `1week`).
pub fn parse_duration(text: &str) -> Result<TimeDelta, DurationError> {
    let error = || DurationError {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    if let Ok(days) = trimmed.parse::<f64>() {
        return days_to_delta(days).ok_or_else(error);
    }
    let std = humantime::parse_duration(trimmed).map_err(|_| error())?;
    TimeDelta::from_std(std).map_err(|_| error())
}

fn days_to_delta(days: f64) -> Option<TimeDelta> {
    // Whole milliseconds are plenty, and keep f64 noise out of comparisons.
    let millis = days * 86_400_000.0;
    (millis.is_finite() && millis.abs() < 1e15)
        .then(|| TimeDelta::milliseconds(millis.round() as i64))
}

/// Hold the channel on one version while it is active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub version: Version,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Keep the previous version until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    pub until: DateTime<Utc>,
    pub reason: String,
}

/// Never approve this version while the block is active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub version: Version,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The operator's overrides of one channel. Expired ones stay here (and are reported as
/// expired) until an operator clears them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    pub pin: Option<Pin>,
    pub freeze: Option<Freeze>,
    pub blocks: Vec<Block>,
}

/// Everything an evaluation needs to know about a channel besides the releases and the clock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelConfig {
    pub policy: Policy,
    pub overrides: Overrides,
}

/// The flat, hand-editable form of a channel's configuration. Every attribute is optional; an
/// absent parameter takes its default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_window_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_reason: Option<String>,
    /// Version -> why it is blocked and until when.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blocked_versions: BTreeMap<String, BlockDocument>,
    /// Who changed the document last, and when; for people, the policy ignores both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockDocument {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A configuration that cannot be used; it names the attribute, the value and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("attribute `{attribute}`: {value} is not {expected}")]
    Invalid {
        attribute: String,
        value: String,
        expected: String,
    },
    #[error("attribute `{attribute}` is required when `{because}` is set")]
    Missing { attribute: String, because: String },
    #[error("parameters: {0}")]
    Policy(PolicyError),
    #[error("{0}")]
    Syntax(String),
}

// By hand rather than `#[from]`, which would also make the policy error the `source` and
// print it twice in an error chain.
impl From<PolicyError> for ConfigError {
    fn from(e: PolicyError) -> Self {
        ConfigError::Policy(e)
    }
}

fn invalid(attribute: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        attribute: attribute.to_owned(),
        value: format!("{value:?}"),
        expected: expected.to_owned(),
    }
}

const TIME_EXPECTED: &str = "an RFC 3339 time such as 2024-06-01T00:00:00Z";

fn time_attribute(attribute: &str, text: &str) -> Result<DateTime<Utc>, ConfigError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(attribute, text, TIME_EXPECTED))
}

fn version_attribute(attribute: &str, text: &str) -> Result<Version, ConfigError> {
    text.parse()
        .map_err(|_| invalid(attribute, text, "a runner version such as 2.316.1"))
}

fn days_attribute(
    attribute: &str,
    value: Option<f64>,
    default: TimeDelta,
) -> Result<TimeDelta, ConfigError> {
    match value {
        None => Ok(default),
        Some(days) => days_to_delta(days)
            .ok_or_else(|| invalid(attribute, &days.to_string(), "a number of days")),
    }
}

fn reason_attribute(
    attribute: &str,
    because: &str,
    value: Option<String>,
) -> Result<String, ConfigError> {
    match value {
        Some(reason) if !reason.trim().is_empty() => Ok(reason),
        _ => Err(ConfigError::Missing {
            attribute: attribute.to_owned(),
            because: because.to_owned(),
        }),
    }
}

impl ConfigDocument {
    /// Reads the document form from a JSON value; a type error or an unknown attribute is
    /// named. The values themselves are checked by [`ChannelConfig::from_document`].
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        if !value.is_object() {
            return Err(ConfigError::Syntax(
                "expected a JSON object of attributes".to_owned(),
            ));
        }
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            ConfigError::Syntax(if path == "." {
                inner.to_string()
            } else {
                format!("attribute `{path}`: {inner}")
            })
        })
    }
}

impl ChannelConfig {
    /// Parses the JSON document form; a type error names the attribute.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        ChannelConfig::from_value(value)
    }

    /// Validates the document form given as a JSON value (what a store item converts to).
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        ChannelConfig::from_document(ConfigDocument::from_value(value)?)
    }

    /// Validates a document; nothing partial comes out of a bad one.
    pub fn from_document(doc: ConfigDocument) -> Result<Self, ConfigError> {
        let defaults = Policy::default();
        let platforms = match doc.platforms {
            None => defaults.platforms.clone(),
            Some(names) => names
                .iter()
                .map(|name| {
                    name.parse().map_err(|e: crate::PlatformError| {
                        invalid("platforms", name, &e.to_string())
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let policy = Policy::new(
            days_attribute("min_age_days", doc.min_age_days, defaults.min_age)?,
            days_attribute(
                "support_window_days",
                doc.support_window_days,
                defaults.support_window,
            )?,
            days_attribute("soak_days", doc.soak_days, defaults.soak)?,
            platforms,
        )?;

        let pin = match doc.pin_version {
            None => {
                for (attribute, value) in [
                    ("pin_reason", &doc.pin_reason),
                    ("pin_expires_at", &doc.pin_expires_at),
                ] {
                    if value.is_some() {
                        return Err(ConfigError::Missing {
                            attribute: "pin_version".into(),
                            because: attribute.into(),
                        });
                    }
                }
                None
            }
            Some(version) => Some(Pin {
                version: version_attribute("pin_version", &version)?,
                reason: reason_attribute("pin_reason", "pin_version", doc.pin_reason)?,
                expires_at: doc
                    .pin_expires_at
                    .map(|t| time_attribute("pin_expires_at", &t))
                    .transpose()?,
            }),
        };
        let freeze = match doc.freeze_until {
            None if doc.freeze_reason.is_some() => {
                return Err(ConfigError::Missing {
                    attribute: "freeze_until".into(),
                    because: "freeze_reason".into(),
                })
            }
            None => None,
            Some(until) => Some(Freeze {
                until: time_attribute("freeze_until", &until)?,
                reason: reason_attribute("freeze_reason", "freeze_until", doc.freeze_reason)?,
            }),
        };
        let blocks = doc
            .blocked_versions
            .into_iter()
            .map(|(version, block)| {
                let attribute = format!("blocked_versions.{version}");
                Ok(Block {
                    version: version_attribute("blocked_versions", &version)?,
                    reason: reason_attribute(
                        &format!("{attribute}.reason"),
                        &attribute,
                        Some(block.reason),
                    )?,
                    expires_at: block
                        .expires_at
                        .map(|t| time_attribute(&format!("{attribute}.expires_at"), &t))
                        .transpose()?,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(ChannelConfig {
            policy,
            overrides: Overrides {
                pin,
                freeze,
                blocks,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        ChannelConfig::from_json(json).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_the_specs() {
        let config = ChannelConfig::from_json("{}").unwrap();
        assert_eq!(config.policy.min_age(), TimeDelta::days(3));
        assert_eq!(config.policy.support_window(), TimeDelta::days(30));
        assert_eq!(config.policy.soak(), TimeDelta::days(7));
        assert_eq!(
            config.policy.platforms(),
            [Platform::LinuxX64, Platform::LinuxArm64]
        );
        assert_eq!(config.overrides, Overrides::default());
    }

    #[test]
    fn parameters_are_validated() {
        let d = TimeDelta::days;
        let p = || vec![Platform::LinuxX64];
        assert!(
            Policy::new(d(0), d(30), d(0), p()).is_ok(),
            "X = S = 0 is allowed"
        );
        assert!(
            Policy::new(d(7), d(30), d(7), p()).is_ok(),
            "X = S is allowed"
        );
        assert_eq!(
            Policy::new(d(8), d(30), d(7), p()).unwrap_err().to_string(),
            "min_age (8 days) must not exceed soak (7 days)"
        );
        assert_eq!(
            Policy::new(d(30), d(30), d(30), p())
                .unwrap_err()
                .to_string(),
            "min_age (30 days) must be shorter than support_window (30 days)"
        );
        assert!(matches!(
            Policy::new(d(-1), d(30), d(7), p()),
            Err(PolicyError::Negative {
                name: "min_age",
                ..
            })
        ));
        assert_eq!(
            Policy::new(d(3), d(30), d(7), vec![]),
            Err(PolicyError::NoPlatforms)
        );
        assert_eq!(
            err(r#"{"min_age_days": 10}"#),
            "parameters: min_age (10 days) must not exceed soak (7 days)"
        );
    }

    #[test]
    fn full_document_round_trip() {
        let config = ChannelConfig::from_json(
            r#"{"min_age_days": 2, "soak_days": 10, "support_window_days": 28,
                "platforms": ["linux-x64", "win-x64"],
                "pin_version": "v2.316.1", "pin_reason": "canary", "pin_expires_at": "2024-06-01T00:00:00Z",
                "freeze_until": "2024-07-01T00:00:00+02:00", "freeze_reason": "release week",
                "blocked_versions": {"2.317.0": {"reason": "broke docker"},
                                     "2.318.0": {"reason": "bad", "expires_at": "2024-08-01T00:00:00Z"}}}"#,
        )
        .unwrap();
        assert_eq!(config.policy.min_age(), TimeDelta::days(2));
        assert_eq!(
            config.policy.platforms(),
            [Platform::LinuxX64, Platform::WinX64]
        );
        let pin = config.overrides.pin.unwrap();
        assert_eq!(pin.version.to_string(), "2.316.1");
        assert_eq!(
            pin.expires_at.unwrap().to_rfc3339(),
            "2024-06-01T00:00:00+00:00"
        );
        assert_eq!(
            config.overrides.freeze.unwrap().until.to_rfc3339(),
            "2024-06-30T22:00:00+00:00"
        );
        assert_eq!(config.overrides.blocks.len(), 2);
        assert_eq!(
            config.overrides.blocks[1].expires_at.unwrap().to_rfc3339(),
            "2024-08-01T00:00:00+00:00"
        );
    }

    #[test]
    fn bad_documents_name_the_attribute() {
        assert!(err(r#"{"pin_verison": "2.1.0"}"#).contains("unknown field `pin_verison`"));
        assert!(err(r#"{"soak_days": "seven"}"#).starts_with("attribute `soak_days`: invalid type"));
        assert_eq!(
            err(r#"{"pin_version": "latest", "pin_reason": "x"}"#),
            "attribute `pin_version`: \"latest\" is not a runner version such as 2.316.1"
        );
        assert_eq!(
            err(r#"{"pin_version": "2.1.0"}"#),
            "attribute `pin_reason` is required when `pin_version` is set"
        );
        assert_eq!(
            err(r#"{"pin_reason": "why"}"#),
            "attribute `pin_version` is required when `pin_reason` is set"
        );
        assert_eq!(
            err(r#"{"freeze_until": "next week", "freeze_reason": "x"}"#),
            format!("attribute `freeze_until`: \"next week\" is not {TIME_EXPECTED}")
        );
        assert_eq!(
            err(r#"{"freeze_reason": "x"}"#),
            "attribute `freeze_until` is required when `freeze_reason` is set"
        );
        assert!(err(r#"{"platforms": ["linux-x86"]}"#).starts_with(
            "attribute `platforms`: \"linux-x86\" is not unknown platform `linux-x86`"
        ));
        assert_eq!(
            err(r#"{"blocked_versions": {"2.1.0": {"reason": " "}}}"#),
            "attribute `blocked_versions.2.1.0.reason` is required when `blocked_versions.2.1.0` is set"
        );
        assert!(
            err(r#"{"blocked_versions": {"2.1.0": {"reason": "x", "until": "y"}}}"#)
                .contains("unknown field `until`")
        );
        assert_eq!(
            err(r#"{"blocked_versions": {"2.1.0": {"reason": "x", "expires_at": "never"}}}"#),
            format!(
                "attribute `blocked_versions.2.1.0.expires_at`: \"never\" is not {TIME_EXPECTED}"
            )
        );
        assert_eq!(err("[1]"), "expected a JSON object of attributes");
        assert!(err("{").contains("EOF"), "{}", err("{"));
    }

    #[test]
    fn durations_as_operators_type_them() {
        assert_eq!(parse_duration("3").unwrap(), TimeDelta::days(3));
        assert_eq!(parse_duration("0.5").unwrap(), TimeDelta::hours(12));
        assert_eq!(parse_duration("72h").unwrap(), TimeDelta::days(3));
        assert_eq!(parse_duration("2d 12h").unwrap(), TimeDelta::hours(60));
        assert_eq!(parse_duration("1week").unwrap(), TimeDelta::days(7));
        for bad in ["", "soon", "3 parsecs", "NaN", "inf"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn days_are_shown_to_a_tenth() {
        assert_eq!(days(TimeDelta::days(3)), "3 days");
        assert_eq!(days(TimeDelta::hours(24)), "1 day");
        assert_eq!(days(TimeDelta::hours(82)), "3.4 days");
    }
}

//! The operator's use case: change a channel's overrides or parameters safely. A change is
//! applied to the stored config document, validated, tried against the releases known now,
//! and only then written, with who made it and why in the document and the decision log.

use chrono::{DateTime, SecondsFormat, Utc};
use policy::{
    decide, in_days, AssetCheck, BlockDocument, ChannelConfig, ConfigDocument, DecisionError,
    DecisionRecord, Outcome, Platform, Version,
};

use crate::github::{GithubSource, SourceError};
use crate::names::ChannelName;
use crate::state::LogEntry;
use crate::store::{StateStore, StoreError};

/// A policy parameter an operator can set, in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parameter {
    MinAge,
    Soak,
    SupportWindow,
}

/// One change to a channel's config.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Pin {
        version: Version,
        reason: String,
        expires_at: Option<DateTime<Utc>>,
    },
    Block {
        version: Version,
        reason: String,
        expires_at: Option<DateTime<Utc>>,
    },
    Freeze {
        until: DateTime<Utc>,
        reason: String,
    },
    ClearPin,
    ClearFreeze,
    ClearBlock(Version),
    Set(Parameter, chrono::TimeDelta),
    SetPlatforms(Vec<Platform>),
}

#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("listing releases to check the change: {0}")]
    Source(#[from] SourceError),
    #[error("refused: {0}")]
    Invalid(String),
    #[error("refused: {0}; nothing was written")]
    Refused(Box<DecisionError>),
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Change {
    /// Applies the change to the document; a clear of something that is not set is an error.
    fn apply(&self, doc: &mut ConfigDocument) -> Result<(), OperateError> {
        match self {
            Change::Pin {
                version,
                reason,
                expires_at,
            } => {
                doc.pin_version = Some(version.to_string());
                doc.pin_reason = Some(reason.clone());
                doc.pin_expires_at = expires_at.as_ref().map(time);
            }
            Change::Block {
                version,
                reason,
                expires_at,
            } => {
                doc.blocked_versions.insert(
                    version.to_string(),
                    BlockDocument {
                        reason: reason.clone(),
                        expires_at: expires_at.as_ref().map(time),
                    },
                );
            }
            Change::Freeze { until, reason } => {
                doc.freeze_until = Some(time(until));
                doc.freeze_reason = Some(reason.clone());
            }
            Change::ClearPin => {
                doc.pin_version
                    .take()
                    .ok_or_else(|| nothing_to_clear("no pin is set"))?;
                doc.pin_reason = None;
                doc.pin_expires_at = None;
            }
            Change::ClearFreeze => {
                doc.freeze_until
                    .take()
                    .ok_or_else(|| nothing_to_clear("no freeze is set"))?;
                doc.freeze_reason = None;
            }
            Change::ClearBlock(version) => {
                // Operators may have written the key with or without the `v`.
                let key = doc
                    .blocked_versions
                    .keys()
                    .find(|k| k.parse::<Version>().ok().as_ref() == Some(version))
                    .cloned()
                    .ok_or_else(|| nothing_to_clear(&format!("{version} is not blocked")))?;
                doc.blocked_versions.remove(&key);
            }
            Change::Set(parameter, value) => {
                let days = Some(in_days(*value));
                match parameter {
                    Parameter::MinAge => doc.min_age_days = days,
                    Parameter::Soak => doc.soak_days = days,
                    Parameter::SupportWindow => doc.support_window_days = days,
                }
            }
            Change::SetPlatforms(platforms) => {
                doc.platforms = Some(platforms.iter().map(|p| p.to_string()).collect());
            }
        }
        Ok(())
    }

    /// The change in a few words, for the decision log.
    pub fn describe(&self) -> String {
        let until = |t: &Option<DateTime<Utc>>| t.as_ref().map(|t| format!(" until {}", time(t)));
        match self {
            Change::Pin {
                version,
                reason,
                expires_at,
            } => format!(
                "pin {version}{} ({reason})",
                until(expires_at).unwrap_or_default()
            ),
            Change::Block {
                version,
                reason,
                expires_at,
            } => format!(
                "block {version}{} ({reason})",
                until(expires_at).unwrap_or_default()
            ),
            Change::Freeze { until, reason } => format!("freeze until {} ({reason})", time(until)),
            Change::ClearPin => "clear the pin".to_owned(),
            Change::ClearFreeze => "clear the freeze".to_owned(),
            Change::ClearBlock(version) => format!("clear the block of {version}"),
            Change::Set(parameter, value) => {
                let name = match parameter {
                    Parameter::MinAge => "min_age",
                    Parameter::Soak => "soak",
                    Parameter::SupportWindow => "support_window",
                };
                format!("set {name} to {}", policy::days(*value))
            }
            Change::SetPlatforms(platforms) => {
                let names: Vec<&str> = platforms.iter().map(|p| p.as_str()).collect();
                format!("set platforms to {}", names.join(", "))
            }
        }
    }
}

fn nothing_to_clear(what: &str) -> OperateError {
    OperateError::Invalid(format!("{what}; nothing to clear"))
}

/// What a change did: the new config and the decision the next evaluation would make.
#[derive(Debug)]
pub struct Changed {
    pub config: ChannelConfig,
    pub preview: DecisionRecord,
}

/// Applies `change` to the channel's config if it validates and does not make the next
/// evaluation fail for a pin that cannot be served; records `who` and the reason.
pub async fn change_config(
    state: &dyn StateStore,
    source: &GithubSource,
    channel: &ChannelName,
    change: &Change,
    who: &str,
    now: DateTime<Utc>,
) -> Result<Changed, OperateError> {
    let mut document = state.config_document(channel).await?;
    change.apply(&mut document)?;
    document.updated_by = Some(who.to_owned());
    document.updated_at = Some(time(&now));
    let config = ChannelConfig::from_document(document.clone())
        .map_err(|e| OperateError::Invalid(e.to_string()))?;

    let cache = state.release_cache().await.ok().flatten();
    let listing = source.releases(cache.as_ref()).await?;
    let current = state.state(channel).await?;
    let preview = decide(&policy::Evaluation {
        releases: &listing.releases,
        now,
        previous: current.approved.as_ref().map(|a| &a.version),
        config: &config,
        assets: AssetCheck::Required,
    });
    if let Outcome::Failed {
        error: error @ DecisionError::PinUnavailable { .. },
    } = &preview.outcome
    {
        return Err(OperateError::Refused(Box::new(error.clone())));
    }
    state.save_config(channel, &document).await?;
    state
        .append_log(&LogEntry {
            channel: channel.clone(),
            at: now,
            decision: None,
            error: None,
            change: Some(format!("{} by {who}", change.describe())),
        })
        .await?;
    Ok(Changed { config, preview })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn changes_edit_the_flat_document() {
        let mut doc = ConfigDocument::default();
        Change::Pin {
            version: v("v2.316.1"),
            reason: "canary".into(),
            expires_at: Some(at()),
        }
        .apply(&mut doc)
        .unwrap();
        assert_eq!(doc.pin_version.as_deref(), Some("2.316.1"));
        assert_eq!(doc.pin_expires_at.as_deref(), Some("2024-06-01T00:00:00Z"));
        Change::Block {
            version: v("2.317.0"),
            reason: "broken".into(),
            expires_at: None,
        }
        .apply(&mut doc)
        .unwrap();
        Change::Set(Parameter::Soak, chrono::TimeDelta::hours(36))
            .apply(&mut doc)
            .unwrap();
        assert_eq!(doc.soak_days, Some(1.5));
        Change::ClearBlock(v("v2.317.0")).apply(&mut doc).unwrap();
        assert!(doc.blocked_versions.is_empty());
        Change::ClearPin.apply(&mut doc).unwrap();
        assert_eq!(doc.pin_version, None);
        assert_eq!(doc.pin_reason, None);

        let err = Change::ClearFreeze.apply(&mut doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: no freeze is set; nothing to clear"
        );
        let err = Change::ClearBlock(v("2.1.0")).apply(&mut doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: 2.1.0 is not blocked; nothing to clear"
        );
    }

    #[test]
    fn descriptions() {
        let change = Change::Freeze {
            until: at(),
            reason: "release week".into(),
        };
        assert_eq!(
            change.describe(),
            "freeze until 2024-06-01T00:00:00Z (release week)"
        );
        assert_eq!(
            Change::Set(Parameter::MinAge, chrono::TimeDelta::days(2)).describe(),
            "set min_age to 2 days"
        );
    }
}

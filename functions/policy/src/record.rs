//! The decision record: everything an evaluation decided and why, as JSON for machines (serde)
//! and as text for people (`Display`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::artifact::{ArtifactProblem, Platform};
use crate::config::{in_days, show_days, Block, Freeze, Pin, Policy};
use crate::decide::{AssetCheck, Rule};
use crate::release::SkippedRelease;
use crate::Version;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub evaluated_at: DateTime<Utc>,
    pub previous: Option<Version>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// When the chosen version was published, if it is a known release.
    pub published_at: Option<DateTime<Utc>>,
    /// True when a version was chosen and it differs from `previous`.
    pub changed: bool,
    /// What the rules alone chose, also when a pin or freeze decided.
    pub policy_choice: Option<Version>,
    pub rules: Vec<RuleOutcome>,
    /// Every known release but the policy's choice, with the first reason that dropped it.
    pub dropped: Vec<Dropped>,
    /// Releases left out of the input (bad tag, draft, duplicate).
    pub skipped: Vec<SkippedRelease>,
    pub overrides: OverrideReport,
    pub warnings: Vec<Warning>,
    /// When GitHub stops queueing jobs to the chosen version: its first successor + W.
    pub cutoff: Option<DateTime<Utc>>,
    /// The earliest time the choice would change, with the releases known now.
    pub next_change: Option<DateTime<Utc>>,
    pub parameters: Parameters,
}

impl DecisionRecord {
    /// The version served after this evaluation: the choice, or on failure the previous one.
    pub fn served(&self) -> Option<&Version> {
        self.outcome.version().or(self.previous.as_ref())
    }

    pub fn relaxed(&self) -> impl Iterator<Item = Rule> + '_ {
        self.rules.iter().filter(|r| r.relaxed()).map(|r| r.rule)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Chosen {
        version: Version,
        decided_by: DecidedBy,
    },
    Failed {
        error: DecisionError,
    },
}

impl From<DecisionError> for Outcome {
    fn from(error: DecisionError) -> Self {
        Outcome::Failed { error }
    }
}

impl Outcome {
    pub fn version(&self) -> Option<&Version> {
        match self {
            Outcome::Chosen { version, .. } => Some(version),
            Outcome::Failed { .. } => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Policy,
    Pin,
    Freeze,
}

/// Why an evaluation chose nothing; the channel keeps serving the previous version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionError {
    #[error(
        "no candidate release among {known} known releases (each one's reason is under dropped)"
    )]
    NoCandidate { known: usize },
    #[error("pinned version {version} cannot be served: {problem}")]
    PinUnavailable {
        version: Version,
        problem: PinProblem,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", content = "reason", rename_all = "snake_case")]
pub enum PinProblem {
    #[error("no such release is published")]
    NotPublished,
    #[error("{0}")]
    NotCandidate(DropReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    Held,
    Relaxed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOutcome {
    pub rule: Rule,
    pub status: RuleStatus,
}

impl RuleOutcome {
    pub(crate) fn new(rule: Rule, relaxed: bool) -> Self {
        let status = if relaxed {
            RuleStatus::Relaxed
        } else {
            RuleStatus::Held
        };
        RuleOutcome { rule, status }
    }

    pub fn relaxed(&self) -> bool {
        self.status == RuleStatus::Relaxed
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    pub version: Version,
    #[serde(flatten)]
    pub reason: DropReason,
}

/// The first reason a release was dropped: it was never a candidate, or a rule dropped it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum DropReason {
    #[error("prerelease")]
    Prerelease,
    #[error("blocked: {reason}")]
    Blocked { reason: String },
    #[error("{platform}: {problem}")]
    Artifact {
        platform: Platform,
        problem: ArtifactProblem,
    },
    #[error("min_age: {} old", show_days(*.age_days))]
    MinAge { age_days: f64 },
    #[error("supported: outside GitHub's window since {}", rfc3339(cutoff))]
    Supported { cutoff: DateTime<Utc> },
    #[error("latest_patch: {newer} is a newer patch")]
    LatestPatch { newer: Version },
    #[error("no_rollback: older than the previous version {previous}")]
    NoRollback { previous: Version },
    #[error("soak: {} old", show_days(*.age_days))]
    Soak { age_days: f64 },
}

impl DropReason {
    /// The rule that dropped the release; `None` when it was never a candidate.
    pub fn rule(&self) -> Option<Rule> {
        match self {
            DropReason::Prerelease | DropReason::Blocked { .. } | DropReason::Artifact { .. } => {
                None
            }
            DropReason::MinAge { .. } => Some(Rule::MinAge),
            DropReason::Supported { .. } => Some(Rule::Supported),
            DropReason::LatestPatch { .. } => Some(Rule::LatestPatch),
            DropReason::NoRollback { .. } => Some(Rule::NoRollback),
            DropReason::Soak { .. } => Some(Rule::Soak),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            DropReason::Prerelease => "prerelease",
            DropReason::Blocked { .. } => "blocked",
            DropReason::Artifact { .. } => "no verifiable artifact",
            other => other.rule().map_or("", Rule::name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OverrideNote {
    Pin(Pin),
    Freeze(Freeze),
    Block(Block),
}

/// The channel's overrides at the evaluation time, split into active and expired.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideReport {
    pub active: Vec<OverrideNote>,
    pub expired: Vec<OverrideNote>,
}

impl OverrideReport {
    pub fn active_pin(&self) -> Option<&Pin> {
        self.active.iter().find_map(|o| match o {
            OverrideNote::Pin(pin) => Some(pin),
            _ => None,
        })
    }

    pub fn active_freeze(&self) -> Option<&Freeze> {
        self.active.iter().find_map(|o| match o {
            OverrideNote::Freeze(freeze) => Some(freeze),
            _ => None,
        })
    }

    /// The active block of `version`, if any.
    pub fn blocks(&self, version: &Version) -> Option<&Block> {
        self.active.iter().find_map(|o| match o {
            OverrideNote::Block(block) if &block.version == version => Some(block),
            _ => None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty() && self.expired.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    #[error(
        "pinned version {version} is outside GitHub's window since {}: runners on it get no jobs",
        rfc3339(since)
    )]
    PinnedUnsupported {
        version: Version,
        since: DateTime<Utc>,
    },
    #[error(
        "frozen version {version} is outside GitHub's window since {}: runners on it get no jobs",
        rfc3339(since)
    )]
    FrozenUnsupported {
        version: Version,
        since: DateTime<Utc>,
    },
    #[error("freeze not applied: the previous version {version} is blocked")]
    FreezeBlocked { version: Version },
    #[error("freeze not applied: there is no previous version to hold")]
    FreezeWithoutPrevious,
}

/// The parameters the decision was made with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    pub min_age_days: f64,
    pub support_window_days: f64,
    pub soak_days: f64,
    pub platforms: Vec<Platform>,
    pub assets_checked: bool,
}

impl Parameters {
    pub(crate) fn of(policy: &Policy, assets: AssetCheck) -> Self {
        Parameters {
            min_age_days: in_days(policy.min_age()),
            support_window_days: in_days(policy.support_window()),
            soak_days: in_days(policy.soak()),
            platforms: policy.platforms().to_vec(),
            assets_checked: assets == AssetCheck::Required,
        }
    }
}

/// Times as operators read them: RFC 3339, UTC, whole seconds.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn describe_override(note: &OverrideNote) -> String {
    let until = |t: &Option<DateTime<Utc>>| t.as_ref().map(|t| format!(" until {}", rfc3339(t)));
    match note {
        OverrideNote::Pin(p) => format!(
            "pin {}{} ({})",
            p.version,
            until(&p.expires_at).unwrap_or_default(),
            p.reason
        ),
        OverrideNote::Freeze(f) => format!("freeze until {} ({})", rfc3339(&f.until), f.reason),
        OverrideNote::Block(b) => format!(
            "block {}{} ({})",
            b.version,
            until(&b.expires_at).unwrap_or_default(),
            b.reason
        ),
    }
}

impl fmt::Display for DecisionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const W: usize = 13;
        writeln!(f, "Decision at {}", rfc3339(&self.evaluated_at))?;
        let previous = self
            .previous
            .as_ref()
            .map_or_else(|| "none".to_owned(), Version::to_string);
        match &self.outcome {
            Outcome::Chosen {
                version,
                decided_by,
            } => {
                let change = if self.changed {
                    format!("changed from {previous}")
                } else {
                    "unchanged".to_owned()
                };
                let by = match decided_by {
                    DecidedBy::Policy => "the policy".to_owned(),
                    DecidedBy::Pin => "a pin".to_owned(),
                    DecidedBy::Freeze => "a freeze".to_owned(),
                };
                writeln!(
                    f,
                    "  {:W$}{version} ({change}), decided by {by}",
                    "approved:"
                )?;
            }
            Outcome::Failed { error } => {
                writeln!(f, "  {:W$}{error}", "FAILED:")?;
                writeln!(
                    f,
                    "  {:W$}{previous} (the channel keeps serving it)",
                    "serving:"
                )?;
            }
        }
        if let (Some(policy), Outcome::Chosen { decided_by, .. }) =
            (&self.policy_choice, &self.outcome)
        {
            if *decided_by != DecidedBy::Policy {
                writeln!(f, "  {:W$}{policy}", "policy says:")?;
            }
        }
        if !self.rules.is_empty() {
            let rules: Vec<String> = self
                .rules
                .iter()
                .map(|r| match r.status {
                    RuleStatus::Held => format!("{} held", r.rule),
                    RuleStatus::Relaxed => format!("{} RELAXED", r.rule),
                })
                .collect();
            writeln!(f, "  {:W$}{}", "rules:", rules.join(", "))?;
        }
        let cutoff = self.cutoff.as_ref().map_or_else(
            || "none (no newer release yet)".to_owned(),
            |t| format!("{} (GitHub stops queueing jobs to it)", rfc3339(t)),
        );
        writeln!(f, "  {:W$}{cutoff}", "cutoff:")?;
        let next = self
            .next_change
            .as_ref()
            .map_or_else(|| "none with the releases known now".to_owned(), rfc3339);
        writeln!(f, "  {:W$}{next}", "next change:")?;
        let p = &self.parameters;
        let platforms: Vec<&str> = p.platforms.iter().map(|p| p.as_str()).collect();
        writeln!(
            f,
            "  {:W$}min_age {}, support_window {}, soak {}; platforms {}{}",
            "parameters:",
            show_days(p.min_age_days),
            show_days(p.support_window_days),
            show_days(p.soak_days),
            platforms.join(", "),
            if p.assets_checked {
                ""
            } else {
                " (checksums not checked)"
            }
        )?;
        if self.overrides.is_empty() {
            writeln!(f, "  {:W$}none", "overrides:")?;
        }
        for note in &self.overrides.active {
            writeln!(f, "  {:W$}{}", "override:", describe_override(note))?;
        }
        for note in &self.overrides.expired {
            writeln!(
                f,
                "  {:W$}{} (expired)",
                "override:",
                describe_override(note)
            )?;
        }
        for warning in &self.warnings {
            writeln!(f, "  {:W$}{warning}", "WARNING:")?;
        }
        // People need the releases that could have been chosen (every one newer than what is
        // served) and the ones an operator blocked; older ones are only counted.
        let served = self.served();
        let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
        let mut listed = Vec::new();
        for d in self.dropped.iter().rev() {
            let blocked = matches!(d.reason, DropReason::Blocked { .. });
            if served.is_none_or(|s| &d.version > s) || blocked {
                listed.push(d);
            } else {
                *counted.entry(d.reason.code()).or_default() += 1;
            }
        }
        if !listed.is_empty() || !counted.is_empty() {
            writeln!(f, "  dropped:")?;
        }
        for d in listed {
            writeln!(f, "    {:<11}{}", d.version.to_string(), d.reason)?;
        }
        if !counted.is_empty() {
            let counts: Vec<String> = counted.iter().map(|(k, n)| format!("{n} by {k}")).collect();
            writeln!(f, "    and older releases: {}", counts.join(", "))?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "  skipped input:")?;
            for s in &self.skipped {
                writeln!(f, "    {:<11}{}", s.tag, s.reason)?;
            }
        }
        Ok(())
    }
}

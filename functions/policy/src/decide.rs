//! The decision: candidates, the five rules relaxed in order, the overrides, and the dates
//! operators need (cutoff, next change).

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{in_days, ChannelConfig, Policy};
use crate::record::{
    DecidedBy, DecisionError, DecisionRecord, DropReason, Dropped, Outcome, OverrideNote,
    OverrideReport, Parameters, PinProblem, RuleOutcome, Warning,
};
use crate::release::{Release, ReleaseList};
use crate::Version;

/// The rules of the SPEC, in precedence order: an earlier rule wins a conflict.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    MinAge,
    Supported,
    LatestPatch,
    NoRollback,
    Soak,
}

impl Rule {
    pub const ORDER: [Rule; 5] = [
        Rule::MinAge,
        Rule::Supported,
        Rule::LatestPatch,
        Rule::NoRollback,
        Rule::Soak,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::MinAge => "min_age",
            Rule::Supported => "supported",
            Rule::LatestPatch => "latest_patch",
            Rule::NoRollback => "no_rollback",
            Rule::Soak => "soak",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a candidate needs a verifiable artifact for every configured platform. The mirror
/// always checks; a pure simulation of the history (which has no checksums) does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetCheck {
    Required,
    Ignored,
}

/// The inputs of one decision. `now` is an argument: the policy never reads a clock.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation<'a> {
    pub releases: &'a ReleaseList,
    pub now: DateTime<Utc>,
    pub previous: Option<&'a Version>,
    pub config: &'a ChannelConfig,
    pub assets: AssetCheck,
}

/// Decides which version the channel serves at `now`, and why.
pub fn decide(evaluation: &Evaluation<'_>) -> DecisionRecord {
    let known = Known::new(evaluation.releases, evaluation.now);
    let choice = known.choose(evaluation, evaluation.now, evaluation.previous);
    let chosen = choice.version().cloned();
    let policy = &evaluation.config.policy;
    let cutoff = chosen
        .as_ref()
        .and_then(|v| known.first_successor(v))
        .map(|f| f + policy.support_window());
    // A failed evaluation keeps serving the previous version, so that is what the next one sees.
    let holds = chosen.as_ref().or(evaluation.previous);
    let next_change = known.next_change(evaluation, holds, chosen.as_ref());
    let published_at = chosen
        .as_ref()
        .and_then(|v| evaluation.releases.get(v))
        .map(|r| r.published_at);
    DecisionRecord {
        evaluated_at: evaluation.now,
        published_at,
        previous: evaluation.previous.cloned(),
        changed: chosen.is_some() && chosen.as_ref() != evaluation.previous,
        outcome: choice.outcome,
        policy_choice: choice.policy_choice,
        rules: choice.rules,
        dropped: choice.dropped,
        skipped: evaluation.releases.skipped().to_vec(),
        overrides: choice.overrides,
        warnings: choice.warnings,
        cutoff,
        next_change,
        parameters: Parameters::of(policy, evaluation.assets),
    }
}

/// What the decision at one instant yields, before the record adds dates about the future.
struct Choice {
    outcome: Outcome,
    policy_choice: Option<Version>,
    rules: Vec<RuleOutcome>,
    dropped: Vec<Dropped>,
    overrides: OverrideReport,
    warnings: Vec<Warning>,
}

impl Choice {
    fn version(&self) -> Option<&Version> {
        self.outcome.version()
    }
}

/// The releases visible at the evaluation time, in ascending version order, with the first
/// successor times the support rule needs.
struct Known<'a> {
    releases: Vec<&'a Release>,
    /// `earliest_stable_from[i]`: the earliest `published_at` of a stable release among
    /// `releases[i..]`, so that F(r) is one lookup.
    earliest_stable_from: Vec<Option<DateTime<Utc>>>,
}

impl<'a> Known<'a> {
    fn new(list: &'a ReleaseList, now: DateTime<Utc>) -> Self {
        let releases: Vec<&Release> = list
            .releases()
            .iter()
            .filter(|r| r.published_at <= now)
            .collect();
        let mut earliest_stable_from = vec![None; releases.len() + 1];
        for (i, r) in releases.iter().enumerate().rev() {
            let later = earliest_stable_from[i + 1];
            earliest_stable_from[i] = match (r.prerelease, later) {
                (true, _) => later,
                (false, None) => Some(r.published_at),
                (false, Some(t)) => Some(t.min(r.published_at)),
            };
        }
        Known {
            releases,
            earliest_stable_from,
        }
    }

    /// F(v): the earliest publication of a stable release with a higher version (blocked ones
    /// included: GitHub still counts them). Works for versions no longer listed, too.
    fn first_successor(&self, version: &Version) -> Option<DateTime<Utc>> {
        let higher = self.releases.partition_point(|r| &r.version <= version);
        self.earliest_stable_from[higher]
    }

    fn choose(&self, e: &Evaluation<'_>, at: DateTime<Utc>, previous: Option<&Version>) -> Choice {
        let config = e.config;
        let policy = &config.policy;
        let overrides = OverrideReport::at(&config.overrides, at);
        let mut warnings = Vec::new();

        // Why each release that is not a candidate is not one; `None` for candidates.
        let exclusions: Vec<Option<DropReason>> = self
            .releases
            .iter()
            .map(|r| exclusion(r, e, &overrides, policy))
            .collect();
        let mut set: Vec<usize> = (0..self.releases.len())
            .filter(|&i| exclusions[i].is_none())
            .collect();
        let mut dropped_by: Vec<Option<DropReason>> = exclusions;
        let mut rules = Vec::new();
        if !set.is_empty() {
            for rule in Rule::ORDER {
                let verdicts: Vec<Option<DropReason>> = set
                    .iter()
                    .enumerate()
                    .map(|(pos, &i)| self.check(rule, pos, &set, i, at, previous, policy))
                    .collect();
                let relaxed = verdicts.iter().all(Option::is_some);
                rules.push(RuleOutcome::new(rule, relaxed));
                if !relaxed {
                    let mut kept = Vec::with_capacity(set.len());
                    for (i, verdict) in set.iter().zip(verdicts) {
                        match verdict {
                            None => kept.push(*i),
                            Some(reason) => dropped_by[*i] = Some(reason),
                        }
                    }
                    set = kept;
                }
            }
        }
        let policy_choice = set.last().map(|&i| self.releases[i].version.clone());
        let dropped = self
            .releases
            .iter()
            .zip(dropped_by.iter())
            .filter_map(|(r, reason)| {
                Some(Dropped {
                    version: r.version.clone(),
                    reason: reason.clone()?,
                })
            })
            .collect();

        let outcome = if let Some(pin) = overrides.active_pin() {
            match self.releases.iter().position(|r| r.version == pin.version) {
                None => Outcome::from(DecisionError::PinUnavailable {
                    version: pin.version.clone(),
                    problem: PinProblem::NotPublished,
                }),
                Some(i) => match &dropped_by[i] {
                    Some(reason) if reason.rule().is_none() => {
                        Outcome::from(DecisionError::PinUnavailable {
                            version: pin.version.clone(),
                            problem: PinProblem::NotCandidate(reason.clone()),
                        })
                    }
                    _ => {
                        if let Some(since) = self.unsupported_since(&pin.version, at, policy) {
                            warnings.push(Warning::PinnedUnsupported {
                                version: pin.version.clone(),
                                since,
                            });
                        }
                        Outcome::Chosen {
                            version: pin.version.clone(),
                            decided_by: DecidedBy::Pin,
                        }
                    }
                },
            }
        } else {
            let frozen = match (overrides.active_freeze(), previous) {
                (None, _) => None,
                (Some(_), None) => {
                    warnings.push(Warning::FreezeWithoutPrevious);
                    None
                }
                (Some(_), Some(p)) if overrides.blocks(p).is_some() => {
                    warnings.push(Warning::FreezeBlocked { version: p.clone() });
                    None
                }
                (Some(_), Some(p)) => {
                    if let Some(since) = self.unsupported_since(p, at, policy) {
                        warnings.push(Warning::FrozenUnsupported {
                            version: p.clone(),
                            since,
                        });
                    }
                    Some(Outcome::Chosen {
                        version: p.clone(),
                        decided_by: DecidedBy::Freeze,
                    })
                }
            };
            match (frozen, &policy_choice) {
                (Some(chosen), _) => chosen,
                (None, Some(v)) => Outcome::Chosen {
                    version: v.clone(),
                    decided_by: DecidedBy::Policy,
                },
                (None, None) => Outcome::from(DecisionError::NoCandidate {
                    known: self.releases.len(),
                }),
            }
        };
        Choice {
            outcome,
            policy_choice,
            rules,
            dropped,
            overrides,
            warnings,
        }
    }

    /// Whether rule `rule` holds for `set[pos]` (= `releases[i]`); if not, why it drops it.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        rule: Rule,
        pos: usize,
        set: &[usize],
        i: usize,
        at: DateTime<Utc>,
        previous: Option<&Version>,
        policy: &Policy,
    ) -> Option<DropReason> {
        let release = self.releases[i];
        let age = at - release.published_at;
        match rule {
            Rule::MinAge => (age < policy.min_age()).then(|| DropReason::MinAge {
                age_days: days_f64(age),
            }),
            Rule::Supported => self
                .unsupported_since(&release.version, at, policy)
                .map(|cutoff| DropReason::Supported { cutoff }),
            Rule::LatestPatch => {
                // The set is in version order, so a newer patch of the same minor is the next one.
                let next = set.get(pos + 1).map(|&j| &self.releases[j].version);
                next.filter(|n| n.same_minor(&release.version))
                    .map(|newer| DropReason::LatestPatch {
                        newer: newer.clone(),
                    })
            }
            Rule::NoRollback => {
                previous
                    .filter(|p| release.version < **p)
                    .map(|p| DropReason::NoRollback {
                        previous: p.clone(),
                    })
            }
            Rule::Soak => (age < policy.soak()).then(|| DropReason::Soak {
                age_days: days_f64(age),
            }),
        }
    }

    /// When `version` left GitHub's window (`F + W`), if that is at or before `at`.
    fn unsupported_since(
        &self,
        version: &Version,
        at: DateTime<Utc>,
        policy: &Policy,
    ) -> Option<DateTime<Utc>> {
        let cutoff = self.first_successor(version)? + policy.support_window();
        (cutoff <= at).then_some(cutoff)
    }

    /// The earliest instant after `now` at which, with the releases known now, the choice
    /// differs from `current`. The choice only changes when a release reaches min_age or soak,
    /// leaves the window, or an override expires, so those instants are the only ones to try.
    fn next_change(
        &self,
        e: &Evaluation<'_>,
        previous: Option<&Version>,
        current: Option<&Version>,
    ) -> Option<DateTime<Utc>> {
        let policy = &e.config.policy;
        let overrides = &e.config.overrides;
        let mut instants: Vec<DateTime<Utc>> = self
            .releases
            .iter()
            .filter(|r| !r.prerelease)
            .flat_map(|r| {
                let out_of_window = self
                    .first_successor(&r.version)
                    .map(|f| f + policy.support_window());
                [
                    Some(r.published_at + policy.min_age()),
                    Some(r.published_at + policy.soak()),
                    out_of_window,
                ]
            })
            .flatten()
            .chain(overrides.pin.as_ref().and_then(|p| p.expires_at))
            .chain(overrides.freeze.as_ref().map(|f| f.until))
            .chain(overrides.blocks.iter().filter_map(|b| b.expires_at))
            .filter(|t| *t > e.now)
            .collect();
        instants.sort_unstable();
        instants.dedup();
        instants
            .into_iter()
            .find(|&t| self.choose(e, t, previous).version() != current)
    }
}

/// Why a release is not a candidate at all, before any rule: prerelease, blocked, or (when
/// assets are checked) a platform without a verifiable artifact.
fn exclusion(
    release: &Release,
    e: &Evaluation<'_>,
    overrides: &OverrideReport,
    policy: &Policy,
) -> Option<DropReason> {
    if release.prerelease {
        return Some(DropReason::Prerelease);
    }
    if let Some(block) = overrides.blocks(&release.version) {
        return Some(DropReason::Blocked {
            reason: block.reason.clone(),
        });
    }
    if e.assets == AssetCheck::Required {
        for &platform in policy.platforms() {
            if let Err(problem) = release.artifact(platform) {
                return Some(DropReason::Artifact { platform, problem });
            }
        }
    }
    None
}

/// Ages in the record are kept to a hundredth of a day (about 15 minutes).
fn days_f64(d: TimeDelta) -> f64 {
    (in_days(d) * 100.0).round() / 100.0
}

impl OverrideReport {
    /// Splits the overrides into those active and those expired at `at`.
    pub fn at(overrides: &crate::config::Overrides, at: DateTime<Utc>) -> Self {
        let mut report = OverrideReport::default();
        let mut file = |note: OverrideNote, expires: Option<DateTime<Utc>>| {
            if expires.is_some_and(|t| t <= at) {
                report.expired.push(note);
            } else {
                report.active.push(note);
            }
        };
        if let Some(pin) = &overrides.pin {
            file(OverrideNote::Pin(pin.clone()), pin.expires_at);
        }
        if let Some(freeze) = &overrides.freeze {
            file(OverrideNote::Freeze(freeze.clone()), Some(freeze.until));
        }
        for block in &overrides.blocks {
            file(OverrideNote::Block(block.clone()), block.expires_at);
        }
        report
    }
}

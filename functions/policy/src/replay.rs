//! Replaying the policy over a release history, once a day, with the SPEC's summary figures.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{ChannelConfig, Policy};
use crate::decide::{decide, AssetCheck, Evaluation};
use crate::record::DecisionRecord;
use crate::release::ReleaseList;
use crate::Version;

/// Daily evaluations at a fixed UTC time, from one date to another, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    from: NaiveDate,
    to: NaiveDate,
    at: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the replay period is empty: --from {from} is after --to {to}")]
pub struct ScheduleError {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Schedule {
    pub fn new(from: NaiveDate, to: NaiveDate, at: NaiveTime) -> Result<Self, ScheduleError> {
        if from > to {
            return Err(ScheduleError { from, to });
        }
        Ok(Schedule { from, to, at })
    }

    fn instants(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .map(|d| d.and_time(self.at).and_utc())
    }
}

/// The figures of a replay. Time-based ones are in days, integrated hour by hour: each
/// evaluation's served version counts for the 24 hours that follow it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub evaluations: usize,
    pub unsupported_days: f64,
    pub under_min_age_days: f64,
    pub under_soak_days: f64,
    pub superseded_patch_days: f64,
    pub rollbacks: usize,
    pub changes: usize,
}

#[derive(Default)]
struct HourCounts {
    unsupported: u32,
    under_min_age: u32,
    under_soak: u32,
    superseded_patch: u32,
}

/// Replays the policy, starting with no previous version and carrying each choice forward.
/// Checksums are not required (the history has none). `each` sees every record in order.
pub fn replay(
    releases: &ReleaseList,
    config: &ChannelConfig,
    schedule: &Schedule,
    mut each: impl FnMut(&DecisionRecord),
) -> Summary {
    let mut summary = Summary::default();
    let mut hours = HourCounts::default();
    let mut previous: Option<Version> = None;
    for now in schedule.instants() {
        let record = decide(&Evaluation {
            releases,
            now,
            previous: previous.as_ref(),
            config,
            assets: AssetCheck::Ignored,
        });
        summary.evaluations += 1;
        if record.changed && record.previous.is_some() {
            summary.changes += 1;
            if record.outcome.version() < record.previous.as_ref() {
                summary.rollbacks += 1;
            }
        }
        if let Some(served) = record.served() {
            count_hours(releases, &config.policy, served, now, &mut hours);
        }
        previous = record.served().cloned();
        each(&record);
    }
    let in_days = |hours: u32| f64::from(hours) / 24.0;
    summary.unsupported_days = in_days(hours.unsupported);
    summary.under_min_age_days = in_days(hours.under_min_age);
    summary.under_soak_days = in_days(hours.under_soak);
    summary.superseded_patch_days = in_days(hours.superseded_patch);
    summary
}

/// Counts, for each hour of the day after `start`, what is wrong with serving `served`.
fn count_hours(
    releases: &ReleaseList,
    policy: &Policy,
    served: &Version,
    start: DateTime<Utc>,
    hours: &mut HourCounts,
) {
    let all = releases.releases();
    let higher = &all[all.partition_point(|r| &r.version <= served)..];
    let published = releases.get(served).map(|r| r.published_at);
    for hour in 0..24 {
        let h = start + TimeDelta::hours(hour);
        let newer_stable = higher
            .iter()
            .filter(|r| !r.prerelease && r.published_at <= h);
        let mut unsupported = false;
        let mut superseded = false;
        for r in newer_stable {
            let age = h - r.published_at;
            unsupported |= age >= policy.support_window();
            superseded |= r.version.same_minor(served) && age >= policy.min_age();
        }
        hours.unsupported += u32::from(unsupported);
        hours.superseded_patch += u32::from(superseded);
        if let Some(published) = published {
            let age = h - published;
            hours.under_min_age += u32::from(age < policy.min_age());
            hours.under_soak += u32::from(age < policy.soak());
        }
    }
}

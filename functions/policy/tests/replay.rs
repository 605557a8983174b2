//! The replay of the real history against the figures of SPEC-policy.md.

use chrono::{NaiveDate, NaiveTime};
use policy::{parse_releases, replay, ChannelConfig, DecisionRecord, ReleaseList, Rule, Schedule};

const HISTORY: &str = include_str!("../../../tests/fixtures/actions-runner-releases.json");

fn history() -> ReleaseList {
    parse_releases(HISTORY).expect("the shipped history parses")
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn run(from: &str, to: &str) -> (Vec<DecisionRecord>, policy::Summary) {
    let schedule = Schedule::new(date(from), date(to), NaiveTime::MIN).unwrap();
    let mut records = Vec::new();
    let summary = replay(&history(), &ChannelConfig::default(), &schedule, |r| {
        records.push(r.clone())
    });
    (records, summary)
}

#[test]
fn spec_replay_2022_09_01_to_2024_08_15() {
    let (records, summary) = run("2022-09-01", "2024-08-15");
    assert_eq!(summary.evaluations, 715);
    assert_eq!(records.len(), 715);
    assert_eq!(summary.unsupported_days, 0.0, "{summary:?}");
    assert_eq!(summary.under_min_age_days, 0.0, "{summary:?}");
    assert_eq!(summary.changes, 26, "{summary:?}");
    assert_eq!(summary.rollbacks, 0, "{summary:?}");

    let at = |day: &str| {
        records
            .iter()
            .find(|r| r.evaluated_at.date_naive() == date(day))
            .unwrap()
    };
    let may_6 = at("2024-05-06");
    assert_eq!(may_6.previous.as_ref().unwrap().to_string(), "2.316.0");
    assert_eq!(may_6.outcome.version().unwrap().to_string(), "2.316.1");
    assert_eq!(may_6.relaxed().collect::<Vec<_>>(), [Rule::Soak]);
    let june_7 = at("2024-06-07");
    assert_eq!(june_7.previous.as_ref().unwrap().to_string(), "2.316.1");
    assert_eq!(june_7.outcome.version().unwrap().to_string(), "2.317.0");
    assert_eq!(june_7.relaxed().count(), 0);
}

#[test]
fn five_years_relax_only_soak_on_52_days() {
    let (records, summary) = run("2021-07-21", "2026-07-20");
    assert_eq!(summary.evaluations, 1826);
    let soak_relaxed = records
        .iter()
        .filter(|r| r.relaxed().collect::<Vec<_>>() == [Rule::Soak])
        .count();
    let other_relaxed = records
        .iter()
        .filter(|r| r.relaxed().any(|rule| rule != Rule::Soak))
        .count();
    assert_eq!(soak_relaxed, 52, "{summary:?}");
    assert_eq!(other_relaxed, 0);
    assert_eq!(summary.unsupported_days, 0.0);
    assert_eq!(summary.rollbacks, 0);
}

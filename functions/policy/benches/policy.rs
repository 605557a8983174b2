//! What the policy costs on the real history: one decision (what the mirror does per channel
//! per evaluation), a five-year daily replay (what `simulate` does), and parsing the history
//! and a full page of the list API.

use std::hint::black_box;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use policy::{
    decide, parse_releases, replay, AssetCheck, ChannelConfig, Evaluation, ReleaseList, Schedule,
    Version,
};

const HISTORY: &str = include_str!("../../../tests/fixtures/actions-runner-releases.json");
/// One release as the API returns it, with every asset and its uploader.
const ONE_RELEASE: &str = include_str!("../../../tests/fixtures/github-release-v2.296.2.json");

fn history() -> ReleaseList {
    parse_releases(HISTORY).expect("the shipped history parses")
}

/// The SPEC's second worked example: 2.316.1 approved, 2.317.0 is 7.4 days old.
fn one_decision(c: &mut Criterion) {
    let releases = history();
    let config = ChannelConfig::default();
    let now: DateTime<Utc> = "2024-06-07T00:00:00Z".parse().unwrap();
    let previous: Version = "2.316.1".parse().unwrap();
    c.bench_function("decide 2024-06-07 on the full history", |b| {
        b.iter(|| {
            decide(black_box(&Evaluation {
                releases: &releases,
                now,
                previous: Some(&previous),
                config: &config,
                assets: AssetCheck::Ignored,
            }))
        })
    });
}

/// 1,826 daily evaluations, 2021-07-21 to 2026-07-20, as in tests/replay.rs.
fn five_year_replay(c: &mut Criterion) {
    let releases = history();
    let config = ChannelConfig::default();
    let day = |text: &str| text.parse::<NaiveDate>().unwrap();
    let schedule = Schedule::new(day("2021-07-21"), day("2026-07-20"), NaiveTime::MIN).unwrap();
    // A replay takes milliseconds; fewer samples keep the run short.
    let mut group = c.benchmark_group("replay");
    group.sample_size(20);
    group.bench_function("daily 2021-07-21 to 2026-07-20", |b| {
        b.iter(|| {
            replay(black_box(&releases), &config, &schedule, |record| {
                black_box(record);
            })
        })
    });
    group.finish();
}

fn parse_history(c: &mut Criterion) {
    c.bench_function("parse the real history (JSON)", |b| {
        b.iter(|| parse_releases(black_box(HISTORY)).unwrap())
    });
}

/// A full page of the list API (`per_page=100`): the real release of the fixture under 100
/// tags, 6.6 MB of JSON, which is what each page of a sync parses.
fn parse_page(c: &mut Criterion) {
    let release: serde_json::Value = serde_json::from_str(ONE_RELEASE).unwrap();
    let page: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut release = release.clone();
            release["tag_name"] = format!("v2.{}.0", 200 + i).into();
            release
        })
        .collect();
    let page = serde_json::to_string(&page).unwrap();
    c.bench_function("parse a full page of 100 releases (JSON)", |b| {
        b.iter(|| parse_releases(black_box(&page)).unwrap())
    });
}

criterion_group! {
    name = benches;
    // The figures are for orders of magnitude, not for tracking small regressions.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = one_decision, five_year_replay, parse_history, parse_page
}
criterion_main!(benches);

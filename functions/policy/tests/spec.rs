//! Every rule, example and override of SPEC-policy.md, through one table-driven helper.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use policy::{
    decide, parse_releases, AssetCheck, Block, ChannelConfig, DecidedBy, DecisionError,
    DecisionRecord, DropReason, Evaluation, Freeze, Outcome, Overrides, Pin, PinProblem, Platform,
    Policy, Release, ReleaseList, Rule, Version, Warning,
};

fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn day(d: f64) -> DateTime<Utc> {
    origin() + TimeDelta::minutes((d * 1440.0).round() as i64)
}

fn v(text: &str) -> Version {
    text.parse().unwrap()
}

/// A synthetic history: (version, day published, prerelease).
fn history(releases: &[(&str, f64, bool)]) -> ReleaseList {
    ReleaseList::new(
        releases
            .iter()
            .map(|&(version, d, pre)| Release::new(v(version), day(d), pre))
            .collect(),
        vec![],
    )
}

fn stable(releases: &[(&str, f64)]) -> ReleaseList {
    history(
        &releases
            .iter()
            .map(|&(v, d)| (v, d, false))
            .collect::<Vec<_>>(),
    )
}

fn evaluate(
    list: &ReleaseList,
    now: DateTime<Utc>,
    previous: Option<&str>,
    config: &ChannelConfig,
) -> DecisionRecord {
    let previous = previous.map(v);
    decide(&Evaluation {
        releases: list,
        now,
        previous: previous.as_ref(),
        config,
        assets: AssetCheck::Ignored,
    })
}

/// The table-driven check: the chosen version and exactly the rules relaxed.
fn check(
    list: &ReleaseList,
    now: DateTime<Utc>,
    previous: Option<&str>,
    overrides: Overrides,
    expected: &str,
    relaxed: &[Rule],
) -> DecisionRecord {
    let config = ChannelConfig {
        policy: Policy::default(),
        overrides,
    };
    let record = evaluate(list, now, previous, &config);
    assert_eq!(
        record.outcome.version().map(ToString::to_string).as_deref(),
        Some(expected),
        "{record}"
    );
    assert_eq!(record.relaxed().collect::<Vec<_>>(), relaxed, "{record}");
    record
}

fn dropped_by(record: &DecisionRecord, version: &str) -> DropReason {
    record
        .dropped
        .iter()
        .find(|d| d.version == v(version))
        .unwrap_or_else(|| panic!("{version} is not dropped:\n{record}"))
        .reason
        .clone()
}

fn none() -> Overrides {
    Overrides::default()
}

// --- The synthetic cases of the SPEC ------------------------------------------------------

#[test]
fn nothing_is_old_enough() {
    let list = stable(&[("2.1.0", 9.0)]);
    let r = check(
        &list,
        day(10.0),
        None,
        none(),
        "2.1.0",
        &[Rule::MinAge, Rule::Soak],
    );
    assert!(r.changed);
}

#[test]
fn operator_rollback_by_blocking_the_approved_version() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 10.0)]);
    let overrides = Overrides {
        blocks: vec![block("2.2.0", None)],
        ..none()
    };
    let r = check(
        &list,
        day(20.0),
        Some("2.2.0"),
        overrides,
        "2.1.0",
        &[Rule::NoRollback],
    );
    assert!(r.changed);
    assert!(matches!(
        dropped_by(&r, "2.2.0"),
        DropReason::Blocked { .. }
    ));
}

#[test]
fn backport_does_not_start_the_clock_for_newer_versions() {
    let list = stable(&[("2.2.0", 0.0), ("2.3.0", 5.0), ("2.2.1", 40.0)]);
    let r = check(&list, day(41.0), Some("2.3.0"), none(), "2.3.0", &[]);
    assert!(!r.changed);
    assert!(matches!(dropped_by(&r, "2.2.1"), DropReason::MinAge { .. }));
    assert!(matches!(
        dropped_by(&r, "2.2.0"),
        DropReason::Supported { .. }
    ));
    assert_eq!(r.cutoff, None, "2.3.0 has no successor");
}

// --- The worked examples on the real history ----------------------------------------------

fn real_history() -> ReleaseList {
    parse_releases(include_str!(
        "../../../tests/fixtures/actions-runner-releases.json"
    ))
    .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[test]
fn worked_example_patch_outranks_soak() {
    let r = check(
        &real_history(),
        at("2024-05-06T00:00:00Z"),
        Some("2.316.0"),
        none(),
        "2.316.1",
        &[Rule::Soak],
    );
    assert!(matches!(
        dropped_by(&r, "2.316.0"),
        DropReason::LatestPatch { .. }
    ));
    assert_eq!(
        r.cutoff, None,
        "nothing newer than 2.316.1 is published yet"
    );
}

#[test]
fn worked_example_new_minor_after_soak() {
    let r = check(
        &real_history(),
        at("2024-06-07T00:00:00Z"),
        Some("2.316.1"),
        none(),
        "2.317.0",
        &[],
    );
    // A fleet held on 2.316.0 had been outside the window since 30 days after 2.316.1.
    let list = real_history();
    let config = ChannelConfig::default();
    let held = evaluate(&list, at("2024-06-07T00:00:00Z"), Some("2.316.0"), &config);
    let r316_0 = held
        .dropped
        .iter()
        .find(|d| d.version == v("2.316.0"))
        .unwrap();
    assert_eq!(
        r316_0.reason,
        DropReason::Supported {
            cutoff: at("2024-06-01T14:44:57Z")
        },
        "{held}"
    );
    assert!(r.changed);
}

// --- One test per rule ---------------------------------------------------------------------

#[test]
fn min_age_drops_young_releases() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 8.0)]);
    let r = check(&list, day(10.0), None, none(), "2.1.0", &[]);
    assert_eq!(
        dropped_by(&r, "2.2.0"),
        DropReason::MinAge { age_days: 2.0 }
    );
}

#[test]
fn min_age_is_inclusive_at_exactly_x() {
    let list = stable(&[("2.1.0", 0.0), ("2.1.1", 7.0)]);
    // At exactly 3 days 2.1.1 is old enough; latest_patch then outranks soak.
    check(&list, day(10.0), None, none(), "2.1.1", &[Rule::Soak]);
    check(
        &list,
        day(10.0) - TimeDelta::seconds(1),
        None,
        none(),
        "2.1.0",
        &[],
    );
}

#[test]
fn supported_drops_versions_outside_the_window() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 10.0), ("2.3.0", 45.0)]);
    let r = check(&list, day(46.0), Some("2.1.0"), none(), "2.2.0", &[]);
    assert_eq!(
        dropped_by(&r, "2.1.0"),
        DropReason::Supported { cutoff: day(40.0) }
    );
    assert!(matches!(dropped_by(&r, "2.3.0"), DropReason::MinAge { .. }));
    assert_eq!(
        r.cutoff,
        Some(day(75.0)),
        "2.2.0 leaves the window 30 days after 2.3.0"
    );
}

#[test]
fn supported_counts_blocked_successors() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 10.0)]);
    let overrides = Overrides {
        blocks: vec![block("2.2.0", None)],
        ..none()
    };
    // 2.2.0 is blocked but GitHub still counts it: 2.1.0 leaves the window at day 40, and
    // with nothing else left, the earlier rule (min_age held) wins and supported is relaxed.
    let r = check(
        &list,
        day(41.0),
        Some("2.1.0"),
        overrides,
        "2.1.0",
        &[Rule::Supported],
    );
    assert_eq!(r.cutoff, Some(day(40.0)));
}

#[test]
fn latest_patch_keeps_the_newest_patch_of_each_minor() {
    let list = stable(&[
        ("2.1.0", 0.0),
        ("2.1.1", 1.0),
        ("2.1.2", 2.0),
        ("2.2.0", 50.0),
    ]);
    let r = check(&list, day(20.0), None, none(), "2.1.2", &[]);
    assert_eq!(
        dropped_by(&r, "2.1.0"),
        DropReason::LatestPatch { newer: v("2.1.1") }
    );
    assert_eq!(
        dropped_by(&r, "2.1.1"),
        DropReason::LatestPatch { newer: v("2.1.2") }
    );
}

#[test]
fn latest_patch_only_counts_the_current_candidate_set() {
    // 2.1.1 is too young, so it does not push 2.1.0 out.
    let list = stable(&[("2.1.0", 0.0), ("2.1.1", 9.0)]);
    let r = check(&list, day(10.0), None, none(), "2.1.0", &[]);
    assert!(matches!(dropped_by(&r, "2.1.1"), DropReason::MinAge { .. }));
}

#[test]
fn no_rollback_keeps_the_previous_version_or_newer() {
    // 2.3.0 is approved although 2.2.0 would win on soak alone; 2.3.0 is only 4 days old.
    let list = stable(&[("2.2.0", 0.0), ("2.3.0", 16.0)]);
    let r = check(
        &list,
        day(20.0),
        Some("2.3.0"),
        none(),
        "2.3.0",
        &[Rule::Soak],
    );
    assert_eq!(
        dropped_by(&r, "2.2.0"),
        DropReason::NoRollback {
            previous: v("2.3.0")
        }
    );
    assert!(!r.changed);
}

#[test]
fn soak_prefers_the_older_minor_until_the_new_one_soaked() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 5.0)]);
    let r = check(&list, day(8.0), Some("2.1.0"), none(), "2.1.0", &[]);
    assert_eq!(dropped_by(&r, "2.2.0"), DropReason::Soak { age_days: 3.0 });
    assert_eq!(
        r.next_change,
        Some(day(12.0)),
        "2.2.0 soaks 7 days after day 5"
    );
    assert_eq!(r.cutoff, Some(day(35.0)));
    check(&list, day(12.0), Some("2.1.0"), none(), "2.2.0", &[]);
}

#[test]
fn the_highest_surviving_version_wins() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0), ("2.3.0", 2.0)]);
    check(&list, day(20.0), None, none(), "2.3.0", &[]);
}

#[test]
fn prereleases_are_never_candidates_and_start_no_clock() {
    let list = history(&[("2.1.0", 0.0, false), ("2.2.0", 1.0, true)]);
    let r = check(&list, day(60.0), Some("2.1.0"), none(), "2.1.0", &[]);
    assert_eq!(dropped_by(&r, "2.2.0"), DropReason::Prerelease);
    assert_eq!(r.cutoff, None);
}

#[test]
fn releases_published_after_now_are_unknown() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 30.0)]);
    let r = check(&list, day(10.0), None, none(), "2.1.0", &[]);
    assert!(r.dropped.is_empty(), "{r}");
    assert_eq!(r.cutoff, None);
    assert_eq!(
        r.next_change, None,
        "with the releases known now nothing changes"
    );
}

#[test]
fn no_candidate_is_an_error_that_keeps_the_previous_version() {
    let list = history(&[("2.1.0", 0.0, true)]);
    let config = ChannelConfig::default();
    let r = evaluate(&list, day(5.0), Some("2.0.0"), &config);
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            error: DecisionError::NoCandidate { known: 1 }
        }
    );
    assert!(!r.changed);
    assert_eq!(r.served(), Some(&v("2.0.0")));
    assert!(r.rules.is_empty());
    let empty = evaluate(&ReleaseList::default(), day(5.0), None, &config);
    assert_eq!(empty.served(), None);
}

#[test]
fn next_change_is_the_first_instant_the_choice_moves() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 10.0)]);
    let r = check(&list, day(11.0), Some("2.1.0"), none(), "2.1.0", &[]);
    // At day 13 2.2.0 reaches min_age but soak still drops it; at day 17 it is soaked.
    assert_eq!(r.next_change, Some(day(17.0)));
    assert_eq!(r.cutoff, Some(day(40.0)));
}

#[test]
fn parameters_change_the_decision() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 5.0)]);
    let config = ChannelConfig {
        policy: Policy::new(
            TimeDelta::days(1),
            TimeDelta::days(30),
            TimeDelta::days(2),
            vec![Platform::LinuxX64],
        )
        .unwrap(),
        overrides: none(),
    };
    let r = evaluate(&list, day(8.0), Some("2.1.0"), &config);
    assert_eq!(r.outcome.version(), Some(&v("2.2.0")));
    assert_eq!(r.parameters.soak_days, 2.0);
}

// --- Overrides --------------------------------------------------------------------------------

fn block(version: &str, expires_at: Option<DateTime<Utc>>) -> Block {
    Block {
        version: v(version),
        reason: "bad release".into(),
        expires_at,
    }
}

fn pin(version: &str, expires_at: Option<DateTime<Utc>>) -> Overrides {
    Overrides {
        pin: Some(Pin {
            version: v(version),
            reason: "canary".into(),
            expires_at,
        }),
        ..none()
    }
}

fn freeze(until: DateTime<Utc>) -> Overrides {
    Overrides {
        freeze: Some(Freeze {
            until,
            reason: "release week".into(),
        }),
        ..none()
    }
}

fn decided_by(record: &DecisionRecord) -> Option<DecidedBy> {
    match record.outcome {
        Outcome::Chosen { decided_by, .. } => Some(decided_by),
        Outcome::Failed { .. } => None,
    }
}

fn failure(record: &DecisionRecord) -> DecisionError {
    match &record.outcome {
        Outcome::Failed { error } => error.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn pin_chooses_its_version_and_still_reports_the_policy() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0), ("2.3.0", 20.0)]);
    let r = check(
        &list,
        day(21.0),
        Some("2.2.0"),
        pin("2.1.0", None),
        "2.1.0",
        &[],
    );
    assert_eq!(decided_by(&r), Some(DecidedBy::Pin));
    assert_eq!(r.policy_choice, Some(v("2.2.0")));
    assert_eq!(r.overrides.active.len(), 1);
    assert!(r.warnings.is_empty());
}

#[test]
fn pin_of_an_unsupported_version_warns() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let r = check(&list, day(40.0), None, pin("2.1.0", None), "2.1.0", &[]);
    assert_eq!(
        r.warnings,
        [Warning::PinnedUnsupported {
            version: v("2.1.0"),
            since: day(31.0)
        }]
    );
}

#[test]
fn pin_of_a_missing_blocked_or_prerelease_version_fails() {
    let list = history(&[
        ("2.1.0", 0.0, false),
        ("2.2.0", 1.0, false),
        ("2.3.0", 2.0, true),
    ]);
    let config = |overrides| ChannelConfig {
        policy: Policy::default(),
        overrides,
    };
    let r = evaluate(&list, day(10.0), Some("2.1.0"), &config(pin("2.9.0", None)));
    assert_eq!(
        failure(&r),
        DecisionError::PinUnavailable {
            version: v("2.9.0"),
            problem: PinProblem::NotPublished
        }
    );
    assert_eq!(r.served(), Some(&v("2.1.0")), "a failed pin keeps P");
    assert!(!r.changed);

    let mut blocked = pin("2.2.0", None);
    blocked.blocks.push(block("2.2.0", None));
    let r = evaluate(&list, day(10.0), Some("2.1.0"), &config(blocked));
    assert!(
        failure(&r)
            .to_string()
            .contains("pinned version 2.2.0 cannot be served: blocked"),
        "{r}"
    );

    let r = evaluate(&list, day(10.0), Some("2.1.0"), &config(pin("2.3.0", None)));
    assert!(failure(&r).to_string().contains("prerelease"), "{r}");
}

#[test]
fn a_pin_of_a_version_published_later_is_not_published_yet() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 30.0)]);
    let config = ChannelConfig {
        policy: Policy::default(),
        overrides: pin("2.2.0", None),
    };
    let r = evaluate(&list, day(10.0), None, &config);
    assert!(matches!(
        failure(&r),
        DecisionError::PinUnavailable {
            problem: PinProblem::NotPublished,
            ..
        }
    ));
}

#[test]
fn expired_pin_is_ignored_and_reported() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let r = check(
        &list,
        day(20.0),
        None,
        pin("2.1.0", Some(day(15.0))),
        "2.2.0",
        &[],
    );
    assert_eq!(decided_by(&r), Some(DecidedBy::Policy));
    assert!(r.overrides.active.is_empty());
    assert_eq!(r.overrides.expired.len(), 1);
}

#[test]
fn pin_expiry_is_a_next_change() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let r = check(
        &list,
        day(10.0),
        None,
        pin("2.1.0", Some(day(15.0))),
        "2.1.0",
        &[],
    );
    assert_eq!(r.next_change, Some(day(15.0)));
}

#[test]
fn freeze_holds_the_previous_version() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let r = check(
        &list,
        day(20.0),
        Some("2.1.0"),
        freeze(day(25.0)),
        "2.1.0",
        &[],
    );
    assert_eq!(decided_by(&r), Some(DecidedBy::Freeze));
    assert_eq!(r.policy_choice, Some(v("2.2.0")));
    assert!(!r.changed);
    assert_eq!(r.next_change, Some(day(25.0)));
}

#[test]
fn freeze_of_an_unsupported_version_warns() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let r = check(
        &list,
        day(35.0),
        Some("2.1.0"),
        freeze(day(40.0)),
        "2.1.0",
        &[],
    );
    assert_eq!(
        r.warnings,
        [Warning::FrozenUnsupported {
            version: v("2.1.0"),
            since: day(31.0)
        }]
    );
}

#[test]
fn freeze_holds_a_previous_version_github_withdrew() {
    let list = stable(&[("2.2.0", 1.0)]);
    check(
        &list,
        day(20.0),
        Some("2.1.0"),
        freeze(day(25.0)),
        "2.1.0",
        &[],
    );
}

#[test]
fn freeze_without_previous_or_of_a_blocked_version_leaves_it_to_the_policy() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let r = check(&list, day(20.0), None, freeze(day(25.0)), "2.2.0", &[]);
    assert_eq!(r.warnings, [Warning::FreezeWithoutPrevious]);

    let mut overrides = freeze(day(25.0));
    overrides.blocks.push(block("2.2.0", None));
    let r = check(
        &list,
        day(20.0),
        Some("2.2.0"),
        overrides,
        "2.1.0",
        &[Rule::NoRollback],
    );
    assert_eq!(
        r.warnings,
        [Warning::FreezeBlocked {
            version: v("2.2.0")
        }]
    );
}

#[test]
fn expired_freeze_is_ignored_and_reported() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let r = check(
        &list,
        day(20.0),
        Some("2.1.0"),
        freeze(day(15.0)),
        "2.2.0",
        &[],
    );
    assert_eq!(r.overrides.expired.len(), 1);
}

#[test]
fn pin_outranks_freeze() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0), ("2.3.0", 2.0)]);
    let mut overrides = pin("2.2.0", None);
    overrides.freeze = freeze(day(30.0)).freeze;
    let r = check(&list, day(20.0), Some("2.1.0"), overrides, "2.2.0", &[]);
    assert_eq!(decided_by(&r), Some(DecidedBy::Pin));
}

#[test]
fn block_expires() {
    let list = stable(&[("2.1.0", 0.0), ("2.2.0", 1.0)]);
    let overrides = Overrides {
        blocks: vec![block("2.2.0", Some(day(15.0)))],
        ..none()
    };
    let r = check(&list, day(10.0), None, overrides.clone(), "2.1.0", &[]);
    assert_eq!(
        r.next_change,
        Some(day(15.0)),
        "the block's expiry changes the choice"
    );
    let r = check(&list, day(15.0), Some("2.1.0"), overrides, "2.2.0", &[]);
    assert_eq!(r.overrides.expired.len(), 1);
}

// --- Assets and checksums --------------------------------------------------------------------

#[test]
fn candidates_need_a_verifiable_artifact_for_every_platform() {
    let real = parse_releases(include_str!(
        "../../../tests/fixtures/github-release-v2.296.2.json"
    ))
    .unwrap();
    let published = real.releases()[0].published_at;
    let decide_with = |platforms: Vec<Platform>| {
        let config = ChannelConfig {
            policy: Policy::new(
                TimeDelta::days(3),
                TimeDelta::days(30),
                TimeDelta::days(7),
                platforms,
            )
            .unwrap(),
            overrides: none(),
        };
        decide(&Evaluation {
            releases: &real,
            now: published + TimeDelta::days(10),
            previous: None,
            config: &config,
            assets: AssetCheck::Required,
        })
    };
    let ok = decide_with(Platform::ALL[..6].to_vec());
    assert_eq!(ok.outcome.version(), Some(&v("2.296.2")), "{ok}");

    let no_win_arm64 = decide_with(vec![Platform::LinuxX64, Platform::WinArm64]);
    assert!(matches!(
        failure(&no_win_arm64),
        DecisionError::NoCandidate { known: 1 }
    ));
    let reason = dropped_by(&no_win_arm64, "2.296.2").to_string();
    assert_eq!(
        reason,
        "win-arm64: no asset named actions-runner-win-arm64-2.296.2.zip"
    );
}

#[test]
fn the_history_has_no_checksums_so_the_mirror_would_refuse_it() {
    let list = real_history();
    let config = ChannelConfig::default();
    let r = decide(&Evaluation {
        releases: &list,
        now: at("2024-06-07T00:00:00Z"),
        previous: None,
        config: &config,
        assets: AssetCheck::Required,
    });
    assert!(matches!(failure(&r), DecisionError::NoCandidate { .. }));
    assert!(
        r.to_string()
            .contains("no asset named actions-runner-linux"),
        "{r}"
    );
}

// --- The record ----------------------------------------------------------------------------

#[test]
fn record_renders_for_people_and_machines() {
    let list = stable(&[("2.1.0", 0.0), ("2.1.1", 6.0), ("2.2.0", 9.5)]);
    let r = check(
        &list,
        day(10.0),
        Some("2.1.0"),
        none(),
        "2.1.1",
        &[Rule::Soak],
    );
    let text = r.to_string();
    for needle in [
        "Decision at 2024-01-11T00:00:00Z",
        "2.1.1 (changed from 2.1.0), decided by the policy",
        "min_age held, supported held, latest_patch held, no_rollback held, soak RELAXED",
        "2.2.0      min_age: 0.5 days old",
        "and older releases: 1 by latest_patch",
        "next change:",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["result"], "chosen");
    assert_eq!(json["version"], "2.1.1");
    assert_eq!(json["decided_by"], "policy");
    assert_eq!(json["previous"], "2.1.0");
    assert_eq!(json["changed"], true);
    assert_eq!(json["rules"][4]["rule"], "soak");
    assert_eq!(json["rules"][4]["status"], "relaxed");
    assert_eq!(json["dropped"][0]["by"], "latest_patch");
    // At day 12.5 2.2.0 is 3 days old and 2.1.1 not yet soaked: soak is relaxed for both and
    // the higher one wins.
    assert_eq!(json["next_change"], "2024-01-13T12:00:00Z");
    let back: DecisionRecord = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn skipped_input_is_reported_in_the_record() {
    let list = parse_releases(
        r#"[{"tag_name": "nightly", "published_at": "2024-01-01T00:00:00Z"},
            {"tag_name": "v2.1.0", "published_at": "2024-01-01T00:00:00Z"}]"#,
    )
    .unwrap();
    let r = evaluate(&list, day(10.0), None, &ChannelConfig::default());
    assert_eq!(r.outcome.version(), Some(&v("2.1.0")));
    assert_eq!(r.skipped.len(), 1);
    assert!(
        r.to_string()
            .contains("nightly    `nightly` is not a runner version"),
        "{r}"
    );
}

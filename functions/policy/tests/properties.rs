//! Property tests of SPEC-policy.md over random release histories: the consequences the SPEC
//! lists (choice is a candidate, min_age first, no rollback, stability), the two dates of the
//! record (`next_change`, `cutoff`) checked against re-deciding, and the JSON round trip.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use policy::{
    decide, AssetCheck, Block, ChannelConfig, DecidedBy, DecisionRecord, Outcome, Overrides,
    Platform, Policy, Release, ReleaseList, Rule, Version,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Every generated time is this origin plus whole hours, so ties between publications, ages
/// and thresholds are frequent: that is where `<` versus `<=` mistakes hide.
fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn at_hour(hours: i64) -> DateTime<Utc> {
    origin() + TimeDelta::hours(hours)
}

/// One random situation: a history, the evaluation time, the previous approval and a channel.
#[derive(Clone, Debug)]
struct Case {
    /// Unique versions, in generation (not version) order.
    releases: Vec<Release>,
    now: DateTime<Utc>,
    previous: Option<Version>,
    config: ChannelConfig,
}

impl Case {
    fn list(&self) -> ReleaseList {
        ReleaseList::new(self.releases.clone(), vec![])
    }

    /// The releases known at `now`: the future a record speaks of (`next_change`, `cutoff`)
    /// is computed from these only, so re-deciding later must not see newer publications.
    fn known_list(&self) -> ReleaseList {
        let known = self
            .releases
            .iter()
            .filter(|r| r.published_at <= self.now)
            .cloned()
            .collect();
        ReleaseList::new(known, vec![])
    }

    /// Stable, visible at `now`, not blocked by an active block: the SPEC's candidates (asset
    /// checks do not apply, the tests decide with `AssetCheck::Ignored`).
    fn candidates(&self) -> Vec<&Release> {
        self.releases
            .iter()
            .filter(|r| !r.prerelease && r.published_at <= self.now)
            .filter(|r| !self.blocked(&r.version, self.now))
            .collect()
    }

    fn blocked(&self, version: &Version, at: DateTime<Utc>) -> bool {
        self.config
            .overrides
            .blocks
            .iter()
            .any(|b| &b.version == version && b.expires_at.is_none_or(|t| t > at))
    }

    fn release(&self, version: &Version) -> Option<&Release> {
        self.releases.iter().find(|r| &r.version == version)
    }
}

fn decide_with(
    releases: &ReleaseList,
    now: DateTime<Utc>,
    previous: Option<&Version>,
    config: &ChannelConfig,
) -> DecisionRecord {
    decide(&policy::Evaluation {
        releases,
        now,
        previous,
        config,
        assets: AssetCheck::Ignored,
    })
}

fn decide_case(case: &Case) -> DecisionRecord {
    decide_with(&case.list(), case.now, case.previous.as_ref(), &case.config)
}

/// The version the policy chose, when it was the policy (not a pin or freeze) that decided.
fn policy_chosen(record: &DecisionRecord) -> Option<&Version> {
    match &record.outcome {
        Outcome::Chosen {
            version,
            decided_by: DecidedBy::Policy,
        } => Some(version),
        _ => None,
    }
}

/// Versions 2.<0..8>.<0..4>, as the brief asks: few enough minors that patches of the same
/// minor (rule 3) and backports (a lower version published later) are common.
fn listed_versions() -> impl Strategy<Value = Version> {
    (0u64..8, 0u64..4).prop_map(|(minor, patch)| Version::new(2, minor, patch))
}

/// A version that may or may not be in the history, including ones above and below all of it.
fn any_version() -> impl Strategy<Value = Version> {
    (1u64..4, 0u64..10, 0u64..6).prop_map(|(major, minor, patch)| Version::new(major, minor, patch))
}

/// Histories of 1 to 24 unique versions published within 120 days, ~15% prereleases. Most are
/// like the real one, versions in publication order with the odd backport (two publication
/// times swapped); the rest have versions in random order. With random order alone the highest
/// version is rarely young or superseded, so `next_change` and `cutoff` would rarely be set.
fn releases() -> impl Strategy<Value = Vec<Release>> {
    let release = (
        listed_versions(),
        0i64..120 * 24,
        prop::bool::weighted(0.15),
    );
    let backports = prop::collection::vec((any::<Index>(), any::<Index>()), 0..3);
    (
        prop::collection::vec(release, 1..25),
        prop::bool::weighted(0.7),
        backports,
    )
        .prop_map(|(mut drafts, time_ordered, backports)| {
            // Keep the first of each version ourselves, so no record carries "duplicate" noise.
            let mut seen = std::collections::BTreeSet::new();
            drafts.retain(|(version, _, _)| seen.insert(version.clone()));
            if time_ordered {
                let mut hours: Vec<i64> = drafts.iter().map(|d| d.1).collect();
                hours.sort_unstable();
                drafts.sort_by(|a, b| a.0.cmp(&b.0));
                for (a, b) in backports {
                    let (i, j) = (a.index(hours.len()), b.index(hours.len()));
                    hours.swap(i, j);
                }
                for (draft, hour) in drafts.iter_mut().zip(hours) {
                    draft.1 = hour;
                }
            }
            drafts
                .into_iter()
                .map(|(version, hour, prerelease)| Release::new(version, at_hour(hour), prerelease))
                .collect()
        })
}

/// The evaluation time: anywhere in the 150 days, or within 15 days after a publication, where
/// releases are young and windows are closing.
#[derive(Clone, Debug)]
enum When {
    Hour(i64),
    After(Index, i64),
}

impl When {
    fn resolve(&self, releases: &[Release]) -> DateTime<Utc> {
        match self {
            When::Hour(hour) => at_hour(*hour),
            When::After(index, hours) => {
                index.get(releases).published_at + TimeDelta::hours(*hours)
            }
        }
    }
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        (0i64..150 * 24).prop_map(When::Hour),
        (any::<Index>(), 0i64..15 * 24).prop_map(|(index, hours)| When::After(index, hours)),
    ]
}

/// A version picked from the history, or any version at all.
#[derive(Clone, Debug)]
enum Pick {
    Listed(Index),
    Any(Version),
}

impl Pick {
    fn resolve(&self, releases: &[Release]) -> Version {
        match self {
            Pick::Listed(index) => index.get(releases).version.clone(),
            Pick::Any(version) => version.clone(),
        }
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        3 => any::<Index>().prop_map(Pick::Listed),
        1 => any_version().prop_map(Pick::Any),
    ]
}

/// Valid parameters in hours: `0 <= X <= S <= 10 days`, `X < W <= 40 days`, `X <= 5 days`.
fn policies() -> impl Strategy<Value = Policy> {
    (0i64..=5 * 24)
        .prop_flat_map(|min_age| (Just(min_age), min_age..=10 * 24, min_age + 1..=40 * 24))
        .prop_map(|(min_age, soak, window)| {
            Policy::new(
                TimeDelta::hours(min_age),
                TimeDelta::hours(window),
                TimeDelta::hours(soak),
                vec![Platform::LinuxX64],
            )
            .expect("the generator only makes valid parameters")
        })
}

fn cases() -> impl Strategy<Value = Case> {
    let block = (pick(), prop::option::of(0i64..150 * 24));
    (
        releases(),
        when(),
        prop_oneof![
            1 => Just(None),
            2 => any::<Index>().prop_map(|i| Some(Pick::Listed(i))),
            1 => any_version().prop_map(|v| Some(Pick::Any(v))),
        ],
        policies(),
        prop_oneof![3 => Just(None), 1 => block.prop_map(Some)],
    )
        .prop_map(|(releases, now, previous, policy, block)| {
            let blocks = block
                .map(|(version, expires)| Block {
                    version: version.resolve(&releases),
                    reason: "property test".to_owned(),
                    expires_at: expires.map(at_hour),
                })
                .into_iter()
                .collect();
            let previous = previous.map(|p| p.resolve(&releases));
            let now = now.resolve(&releases);
            Case {
                releases,
                now,
                previous,
                config: ChannelConfig {
                    policy,
                    overrides: Overrides {
                        pin: None,
                        freeze: None,
                        blocks,
                    },
                },
            }
        })
}

/// Enough cases to hit the corners of 25-release histories, few enough to run in seconds in a
/// debug build (property e decides up to six times per case).
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

proptest! {
    #![proptest_config(config())]

    /// (a) The policy's choice is a candidate: stable, visible at `now`, not actively blocked.
    #[test]
    fn choice_is_a_candidate(case in cases()) {
        let record = decide_case(&case);
        if let Some(chosen) = policy_chosen(&record) {
            let release = case.release(chosen);
            prop_assert!(release.is_some(), "{chosen} is not in the history");
            let release = release.unwrap();
            prop_assert!(!release.prerelease, "{chosen} is a prerelease");
            prop_assert!(release.published_at <= case.now, "{chosen} is not published yet");
            prop_assert!(!case.blocked(chosen, case.now), "{chosen} is blocked");
        } else {
            // No choice only when there is nothing to choose from.
            prop_assert!(
                case.candidates().is_empty(),
                "no choice despite candidates: {record:?}"
            );
        }
    }

    /// (b) While any candidate is at least min_age old, the choice is at least min_age old.
    #[test]
    fn choice_is_min_age_old_when_any_candidate_is(case in cases()) {
        let min_age = case.config.policy.min_age();
        let old_enough = |r: &Release| case.now - r.published_at >= min_age;
        if case.candidates().into_iter().any(old_enough) {
            let record = decide_case(&case);
            let chosen = record.policy_choice.as_ref().expect("there are candidates");
            prop_assert!(old_enough(case.release(chosen).unwrap()), "{chosen} is too young");
            prop_assert!(!record.relaxed().any(|rule| rule == Rule::MinAge));
        }
    }

    /// (c) No rollback while a candidate at least `previous` can be kept. What the algorithm
    /// guarantees is narrower than the SPEC's sentence "a rollback happens only when no
    /// candidate is >= P": rule 1 (min_age) outranks rule 4 (no_rollback), so candidates >= P
    /// that are younger than min_age do not count (see
    /// `min_age_outranks_no_rollback_when_the_previous_version_is_young` below).
    #[test]
    fn no_rollback_while_a_candidate_is_at_least_previous(case in cases()) {
        let record = decide_case(&case);
        if let (Some(chosen), Some(previous)) = (policy_chosen(&record), case.previous.as_ref()) {
            if chosen < previous {
                let min_age = case.config.policy.min_age();
                for candidate in case.candidates() {
                    prop_assert!(
                        candidate.version < *previous
                            || case.now - candidate.published_at < min_age,
                        "rolled back from {} to {} although candidate {} is at least min_age old",
                        previous, chosen, candidate.version
                    );
                }
            }
        }
    }

    /// (d) Deciding again at the same time with the result as previous changes nothing.
    #[test]
    fn deciding_again_with_the_result_is_stable(case in cases()) {
        let list = case.list();
        let first = decide_case(&case);
        let again = decide_with(&list, case.now, first.served(), &case.config);
        prop_assert_eq!(&again.outcome, &first.outcome);
        prop_assert_eq!(again.cutoff, first.cutoff);
        prop_assert_eq!(again.next_change, first.next_change);
        prop_assert!(!again.changed);
    }

    /// (e) `next_change` is exactly when re-deciding (with the releases known now and the
    /// first result as previous) first gives another version.
    #[test]
    fn next_change_agrees_with_deciding_later(case in cases()) {
        let first = decide_case(&case);
        let known = case.known_list();
        let served = first.served();
        let version_at = |t: DateTime<Utc>| {
            decide_with(&known, t, served, &case.config).outcome.version().cloned()
        };
        let chosen = first.outcome.version().cloned();
        match first.next_change {
            Some(t) => {
                prop_assert!(t > case.now, "next change {t} is not after now {}", case.now);
                prop_assert_ne!(version_at(t), chosen.clone(), "nothing changes at {}", t);
                let second = TimeDelta::seconds(1);
                let between = [case.now + second, case.now + (t - case.now) / 2, t - second];
                for instant in between.into_iter().filter(|&i| case.now < i && i < t) {
                    prop_assert_eq!(
                        version_at(instant),
                        chosen.clone(),
                        "changed early, at {}",
                        instant
                    );
                }
            }
            None => {
                for later in [TimeDelta::days(60), TimeDelta::days(400)] {
                    let instant = case.now + later;
                    prop_assert_eq!(version_at(instant), chosen.clone(), "changed at {}", instant);
                }
            }
        }
    }

    /// (f) `cutoff` is F(choice) + W, and at the cutoff the choice is dropped by rule 2 (or
    /// rule 2 is relaxed because nothing is supported any more).
    #[test]
    fn cutoff_agrees_with_the_support_rule(case in cases()) {
        let first = decide_case(&case);
        let Some(chosen) = policy_chosen(&first) else {
            prop_assert_eq!(first.cutoff, None);
            return Ok(());
        };
        let first_successor = case
            .releases
            .iter()
            .filter(|r| !r.prerelease && r.published_at <= case.now && r.version > *chosen)
            .map(|r| r.published_at)
            .min();
        match first.cutoff {
            Some(cutoff) => {
                let window = case.config.policy.support_window();
                prop_assert_eq!(Some(cutoff), first_successor.map(|f| f + window));
                let known = case.known_list();
                let then = decide_with(&known, cutoff, Some(chosen), &case.config);
                let still_chosen = then.outcome.version() == Some(chosen);
                let support_relaxed = then.relaxed().any(|rule| rule == Rule::Supported);
                prop_assert!(
                    !still_chosen || support_relaxed,
                    "{chosen} still chosen at its cutoff {cutoff} with rule 2 held: {then:?}"
                );
            }
            None => prop_assert_eq!(
                first_successor,
                None,
                "no cutoff although {} has a successor",
                chosen
            ),
        }
    }

    /// (g) The record survives a JSON round trip unchanged (floats included: serde_json's
    /// `float_roundtrip` is on, see `a_five_hour_soak_survives_a_json_round_trip`).
    #[test]
    fn record_survives_a_json_round_trip(case in cases()) {
        let record = decide_case(&case);
        let json = serde_json::to_string(&record).expect("a record serializes");
        let back: DecisionRecord = serde_json::from_str(&json)
            .map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
        prop_assert_eq!(back, record);
    }
}

// Regressions the properties above found, pinned as plain tests.

fn day(n: i64) -> DateTime<Utc> {
    origin() + TimeDelta::days(n)
}

fn version(text: &str) -> Version {
    text.parse().unwrap()
}

/// The SPEC's algorithm puts rule 1 (min_age) above rule 4 (no_rollback), so its sentence "a
/// rollback happens only when no candidate is `>= P`" has one exception: when P itself is
/// younger than X (it was approved while nothing was X old, or a pin of a young release
/// expired) and an older candidate reaches X, security wins and the policy moves to the older
/// release until P is X old. With X = 3 days, 2.1.0 published on day 8 and 2.2.0 on day 9: day
/// 10 approves 2.2.0 (min_age RELAXED), day 11 moves to 2.1.0 (no_rollback RELAXED), day 12
/// moves forward to 2.2.0 again. Property (c) states the exact guarantee.
#[test]
fn min_age_outranks_no_rollback_when_the_previous_version_is_young() {
    let releases = ReleaseList::new(
        vec![
            Release::new(version("2.1.0"), day(8), false),
            Release::new(version("2.2.0"), day(9), false),
        ],
        vec![],
    );
    let config = ChannelConfig::default();
    let first = decide_with(&releases, day(10), None, &config);
    assert_eq!(first.outcome.version(), Some(&version("2.2.0")));
    assert_eq!(
        first.relaxed().collect::<Vec<_>>(),
        [Rule::MinAge, Rule::Soak]
    );

    let next = decide_with(&releases, day(11), first.served(), &config);
    assert_eq!(next.outcome.version(), Some(&version("2.1.0")));
    assert_eq!(
        next.relaxed().collect::<Vec<_>>(),
        [Rule::NoRollback, Rule::Soak]
    );

    let after = decide_with(&releases, day(12), next.served(), &config);
    assert_eq!(after.outcome.version(), Some(&version("2.2.0")));
}

/// `parameters.*_days` are f64 fractions of a day: without serde_json's `float_roundtrip`, a
/// soak of 5 hours was written as 0.20833333333333334 and read back as 0.20833333333333337.
#[test]
fn a_five_hour_soak_survives_a_json_round_trip() {
    let releases = ReleaseList::new(vec![Release::new(version("2.0.0"), day(0), false)], vec![]);
    let policy = Policy::new(
        TimeDelta::zero(),
        TimeDelta::days(30),
        TimeDelta::hours(5),
        vec![Platform::LinuxX64],
    )
    .unwrap();
    let config = ChannelConfig {
        policy,
        overrides: Overrides::default(),
    };
    let record = decide_with(&releases, day(1), None, &config);
    let json = serde_json::to_string(&record).unwrap();
    let back: DecisionRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back.parameters, record.parameters, "{json}");
    assert_eq!(back, record);
}

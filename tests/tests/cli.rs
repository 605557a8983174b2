//! `runner-mirror plan` and `simulate`, run as a user runs them.

use std::path::Path;
use std::process::Output;

use e2e_tests::{fixture, runner_mirror};

fn run(args: &[&str]) -> Output {
    runner_mirror()
        .args(args)
        .output()
        .expect("runner-mirror runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A user error: non-zero exit, one line on stderr that contains `needle`, no panic.
fn assert_clear_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "should fail: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
}

fn history() -> String {
    path(&fixture("actions-runner-releases.json")).to_owned()
}

#[test]
fn plan_the_first_worked_example() {
    let out = run(&[
        "plan",
        "--releases",
        &history(),
        "--now",
        "2024-05-06T00:00:00Z",
        "--previous",
        "2.316.0",
        "--ignore-checksums",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("approved:    2.316.1 (changed from 2.316.0), decided by the policy"),
        "{text}"
    );
    assert!(text.contains("soak RELAXED"), "{text}");
}

#[test]
fn plan_as_json_has_the_whole_record() {
    let out = run(&[
        "plan",
        "--releases",
        &history(),
        "--now",
        "2024-06-07T00:00:00Z",
        "--previous",
        "v2.316.1",
        "--ignore-checksums",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["version"], "2.317.0");
    assert_eq!(record["previous"], "2.316.1");
    assert_eq!(record["changed"], true);
    assert_eq!(record["cutoff"], serde_json::Value::Null);
    for key in [
        "rules",
        "dropped",
        "overrides",
        "next_change",
        "skipped",
        "warnings",
    ] {
        assert!(record.get(key).is_some(), "{key} missing");
    }
}

#[test]
fn plan_requires_checksums_by_default_and_says_which_platform() {
    let out = run(&[
        "plan",
        "--releases",
        &history(),
        "--now",
        "2024-06-07T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out)
        .contains("2.317.0    linux-x64: no asset named actions-runner-linux-x64-2.317.0.tar.gz"));
    assert_clear_error(&out, "decision failed: no candidate release");
}

#[test]
fn plan_on_a_real_api_response_verifies_checksums() {
    let out = run(&[
        "plan",
        "--releases",
        path(&fixture("github-release-v2.296.2.json")),
        "--now",
        "2022-10-01T00:00:00Z",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["version"], "2.296.2");
    assert_eq!(record["parameters"]["assets_checked"], true);
}

#[test]
fn plan_with_a_channel_config_applies_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("stable.json");
    std::fs::write(
        &config,
        r#"{"pin_version": "2.316.0", "pin_reason": "canary of 2.317 failed",
            "blocked_versions": {"2.317.0": {"reason": "breaks docker"}}}"#,
    )
    .unwrap();
    let out = run(&[
        "plan",
        "--releases",
        &history(),
        "--now",
        "2024-06-07T00:00:00Z",
        "--ignore-checksums",
        "--channel-config",
        path(&config),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("2.316.0 (changed from none), decided by a pin"),
        "{text}"
    );
    assert!(text.contains("policy says: 2.316.1"), "{text}");
    assert!(text.contains("2.317.0    blocked: breaks docker"), "{text}");
}

#[test]
fn bad_inputs_are_one_line_errors_that_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad_config = dir.path().join("bad.json");
    std::fs::write(
        &bad_config,
        r#"{"soak_days": 7, "freeze_until": "friday", "freeze_reason": "x"}"#,
    )
    .unwrap();
    let out = run(&[
        "plan",
        "--releases",
        &history(),
        "--channel-config",
        path(&bad_config),
    ]);
    assert_clear_error(
        &out,
        "bad.json: attribute `freeze_until`: \"friday\" is not an RFC 3339 time",
    );

    let missing = dir.path().join("nope.json");
    let out = run(&["plan", "--releases", path(&missing)]);
    assert_clear_error(&out, "cannot read releases file");
    assert_clear_error(&out, "nope.json");

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "[{\"tag_name\": \"v2.1.0\",\n \"prerelease\": maybe}]",
    )
    .unwrap();
    let out = run(&["plan", "--releases", path(&broken)]);
    assert_clear_error(&out, "broken.json: not JSON at line 2 column");

    let out = run(&["plan", "--releases", &history(), "--previous", "latest"]);
    assert_clear_error(&out, "`latest` is not a runner version");
    assert_eq!(out.status.code(), Some(2), "argument errors exit 2");

    let out = run(&["plan", "--releases", &history(), "--now", "yesterday"]);
    assert_clear_error(&out, "not an RFC 3339 time");
}

fn simulate(extra: &[&str]) -> Output {
    let mut args = vec![
        "simulate",
        "--releases",
        "",
        "--from",
        "2022-09-01",
        "--to",
        "2024-08-15",
    ];
    let releases = history();
    args[2] = &releases;
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn simulate_jsonl_reproduces_the_spec_figures() {
    let out = simulate(&["--format", "jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 716, "715 evaluations and a summary");
    for line in &lines[..715] {
        for key in ["at", "version", "previous", "changed", "relaxed"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let may_6 = lines
        .iter()
        .find(|l| l["at"] == "2024-05-06T00:00:00Z")
        .unwrap();
    assert_eq!(may_6["version"], "2.316.1");
    assert_eq!(may_6["relaxed"], serde_json::json!(["soak"]));
    let summary = &lines[715]["summary"];
    assert_eq!(summary["unsupported_days"], 0.0);
    assert_eq!(summary["under_min_age_days"], 0.0);
    assert_eq!(summary["changes"], 26);
    assert_eq!(summary["rollbacks"], 0);
    for key in ["under_soak_days", "superseded_patch_days"] {
        assert!(summary[key].is_number(), "{key} missing");
    }
}

#[test]
fn simulate_text_is_a_timeline_of_changes() {
    let out = simulate(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let changes: Vec<&str> = text.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(changes.len(), 26, "{text}");
    assert!(
        text.contains("2024-05-06  2.316.0 -> 2.316.1         published 2024-05-02T14:44:57Z, 3.4 days old; relaxed: soak"),
        "{text}"
    );
    assert!(text
        .lines()
        .last()
        .unwrap()
        .starts_with("Summary: 715 evaluations, 26 changes, 0 rollbacks"));
}

#[test]
fn simulate_reads_the_tsv_history_the_same_way() {
    let tsv = path(&fixture("actions-runner-releases.tsv")).to_owned();
    let from_tsv = run(&[
        "simulate",
        "--releases",
        &tsv,
        "--from",
        "2021-07-21",
        "--to",
        "2026-07-20",
        "--format",
        "jsonl",
    ]);
    let from_json = run(&[
        "simulate",
        "--releases",
        &history(),
        "--from",
        "2021-07-21",
        "--to",
        "2026-07-20",
        "--format",
        "jsonl",
    ]);
    assert!(from_tsv.status.success(), "{}", stderr(&from_tsv));
    assert_eq!(stdout(&from_tsv), stdout(&from_json));
}

#[test]
fn simulate_parameters_and_schedule() {
    let out = simulate(&[
        "--min-age",
        "1",
        "--soak",
        "36h",
        "--at",
        "12:00",
        "--format",
        "jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(first["at"], "2022-09-01T12:00:00Z");

    let out = simulate(&["--min-age", "10"]);
    assert_clear_error(
        &out,
        "parameters: min_age (10 days) must not exceed soak (7 days)",
    );

    let out = run(&[
        "simulate",
        "--releases",
        &history(),
        "--from",
        "2024-02-01",
        "--to",
        "2024-01-01",
    ]);
    assert_clear_error(&out, "--from 2024-02-01 is after --to 2024-01-01");

    let out = simulate(&["--soak", "a week"]);
    assert_clear_error(&out, "is not a duration");
}

//! The operator's commands, `override` and `history`, on the local store against the fake
//! GitHub: each change is validated and previewed before it is written.

use std::path::Path;
use std::process::Output;

use e2e_tests::fake_github::FakeGithub;
use e2e_tests::runner_mirror;

const JUNE_7: &str = "2024-06-07T00:00:00Z";

fn run(fake: &FakeGithub, store: &Path, args: &[&str]) -> Output {
    runner_mirror()
        .args(args)
        .args(["--github-api", &fake.api_url(), "--now", JUNE_7, "--store"])
        .arg(store)
        .env("USER", "alice")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn refused(out: &Output, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(why), "{why:?} not in {stderr:?}");
}

fn config(store: &Path) -> String {
    std::fs::read_to_string(store.join("config/stable.json")).unwrap_or_default()
}

#[test]
fn pin_block_and_clear_are_validated_previewed_and_logged() {
    let fake = FakeGithub::start(FakeGithub::history());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();
    ok(&run(&fake, store, &["sync"]));

    let pinned = ok(&run(
        &fake,
        store,
        &[
            "override",
            "pin",
            "2.316.1",
            "--reason",
            "canary of 2.317 failed",
            "--expires",
            "7d",
        ],
    ));
    assert!(pinned.starts_with("channel stable: pin 2.316.1 until 2024-06-14T00:00:00Z (canary of 2.317 failed) (by alice)"), "{pinned}");
    assert!(
        pinned.contains("The next evaluation would decide:"),
        "{pinned}"
    );
    assert!(
        pinned.contains("approved:    2.316.1 (changed from 2.317.0), decided by a pin"),
        "{pinned}"
    );
    assert!(
        config(store).contains("\"updated_by\": \"alice\""),
        "{}",
        config(store)
    );

    let before = config(store);
    refused(
        &run(&fake, store, &["override", "pin", "2.999.0", "--reason", "typo"]),
        "refused: pinned version 2.999.0 cannot be served: no such release is published; nothing was written",
    );
    ok(&run(
        &fake,
        store,
        &["override", "block", "2.316.0", "--reason", "breaks docker"],
    ));
    let before_block_pin = config(store);
    refused(
        &run(
            &fake,
            store,
            &["override", "pin", "2.316.0", "--reason", "x"],
        ),
        "pinned version 2.316.0 cannot be served: blocked: breaks docker",
    );
    assert_eq!(
        config(store),
        before_block_pin,
        "a refused change writes nothing"
    );
    assert_ne!(config(store), before);

    let shown = ok(&run(&fake, store, &["override", "show"]));
    assert!(
        shown.contains(
            "override:   pin 2.316.1 until 2024-06-14T00:00:00Z (canary of 2.317 failed) [active]"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("override:   block 2.316.0 (breaks docker) [active]"),
        "{shown}"
    );
    assert!(shown.contains("last changed by alice"), "{shown}");

    ok(&run(&fake, store, &["override", "clear", "pin"]));
    refused(
        &run(&fake, store, &["override", "clear", "pin"]),
        "no pin is set; nothing to clear",
    );
    refused(
        &run(&fake, store, &["override", "clear", "freeze"]),
        "no freeze is set; nothing to clear",
    );

    let history = runner_mirror()
        .args(["history", "--store"])
        .arg(store)
        .output()
        .unwrap();
    let history = ok(&history);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 4, "{history}");
    assert!(
        lines[0].ends_with("override: clear the pin by alice"),
        "{history}"
    );
    assert!(
        lines[1].ends_with("override: block 2.316.0 (breaks docker) by alice"),
        "{history}"
    );
    assert!(
        lines[3].ends_with("approved 2.317.0, was none"),
        "{history}"
    );
}

#[test]
fn parameters_and_freeze() {
    let fake = FakeGithub::start(FakeGithub::history());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();
    ok(&run(&fake, store, &["sync"]));
    let set = ok(&run(&fake, store, &["override", "set", "soak", "10"]));
    assert!(
        set.contains("parameters: min_age 3 days, support_window 30 days, soak 10 days"),
        "{set}"
    );
    refused(
        &run(&fake, store, &["override", "set", "min-age", "12"]),
        "refused: parameters: min_age (12 days) must not exceed soak (10 days)",
    );
    ok(&run(
        &fake,
        store,
        &["override", "set", "platforms", "linux-x64,win-x64"],
    ));
    assert!(config(store).contains("win-x64"));

    let frozen = ok(&run(
        &fake,
        store,
        &[
            "override",
            "freeze",
            "--until",
            "2024-07-01T00:00:00Z",
            "--reason",
            "release week",
        ],
    ));
    assert!(
        frozen.contains("approved:    2.317.0 (unchanged), decided by a freeze"),
        "{frozen}"
    );
    let bad_time = run(
        &fake,
        store,
        &["override", "freeze", "--until", "friday", "--reason", "x"],
    );
    assert_eq!(bad_time.status.code(), Some(2), "an argument error");
    assert!(String::from_utf8_lossy(&bad_time.stderr)
        .contains("is neither an RFC 3339 time nor a duration"));
}

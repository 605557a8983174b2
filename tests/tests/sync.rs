//! `runner-mirror sync`, `serve` and `status` on the embedded store, against the fake GitHub.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use chrono::{TimeZone, Utc};
use e2e_tests::fake_github::{ChecksumFault, FakeGithub, FakeRelease};
use e2e_tests::{runner_mirror, Served};
use mirror::ArtifactKey;
use sha2::Digest;

/// The first worked date of the SPEC's replay: 2.317.0 is approved with nothing relaxed.
const JUNE_7: &str = "2024-06-07T00:00:00Z";
/// 2.318.0 (published 2024-07-26) is soaked by then.
const AUGUST_3: &str = "2024-08-03T00:00:00Z";

fn sync(fake: &FakeGithub, store: &Path, now: &str, env: &[(&str, &str)]) -> Output {
    let mut command = runner_mirror();
    command
        .args([
            "sync",
            "--now",
            now,
            "--github-api",
            &fake.api_url(),
            "--store",
        ])
        .arg(store);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("runner-mirror runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "sync failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Fails, and says `why` on stderr's last line.
fn assert_fails(out: &Output, why: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("runner-mirror: error: "), "{stderr}");
    assert!(last.contains(why), "{why:?} not in {last:?}");
}

/// Every file of the store but the log, the state and the cache, with its SHA-256: what a
/// failed sync must leave as it was.
fn artifacts(store: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![store.join("runners")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let name = path.strip_prefix(store).unwrap().display().to_string();
                files.insert(name, hex::encode(sha2::Sha256::digest(&bytes)));
            }
        }
    }
    files
}

fn approved_version(store: &Path) -> Option<String> {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("state/stable.json")).ok()?).unwrap();
    state["approved"]["version"].as_str().map(str::to_owned)
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[test]
fn sync_then_serve_then_download_through_the_redirect() {
    let fake = FakeGithub::start(FakeGithub::history());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mirror");
    let stdout = assert_ok(&sync(&fake, &store, JUNE_7, &[]));
    assert!(
        stdout.contains("approved:    2.317.0 (changed from none)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("copied:      runners/v2.317.0/actions-runner-linux-x64-2.317.0.tar.gz"),
        "{stdout}"
    );

    let served = Served::start(&store);
    let redirect = no_redirects()
        .get(format!("{}/stable/linux-x64", served.url()))
        .send()
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let sha = fake.sha256_hex("2.317.0", "linux-x64");
    assert_eq!(redirect.headers()["x-runner-version"], "2.317.0");
    assert_eq!(redirect.headers()["x-runner-sha256"], sha.as_str());
    assert_eq!(redirect.headers()["cache-control"], "no-store");

    let body = reqwest::blocking::get(format!("{}/stable/linux-x64", served.url()))
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(hex::encode(sha2::Sha256::digest(&body)), sha);
    assert_eq!(
        body.as_ref(),
        fake.asset_bytes("2.317.0", "linux-x64").as_slice()
    );

    let get = |route: &str| {
        reqwest::blocking::get(format!("{}{route}", served.url()))
            .unwrap()
            .text()
            .unwrap()
    };
    assert_eq!(
        get("/stable/linux-arm64.sha256"),
        format!("{}\n", fake.sha256_hex("2.317.0", "linux-arm64"))
    );
    assert_eq!(get("/stable/version"), "2.317.0\n");
    let status: serde_json::Value = serde_json::from_str(&get("/stable")).unwrap();
    assert_eq!(status["version"], "2.317.0");
    assert_eq!(status["approved_at"], JUNE_7);

    let status = runner_mirror()
        .args(["status", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let status = assert_ok(&status);
    assert!(
        status.starts_with("stable: 2.317.0 (approved 2024-06-07T00:00:00Z)"),
        "{status}"
    );
}

#[test]
fn platforms_are_copied_side_by_side() {
    let fake = FakeGithub::start(FakeGithub::history());
    // About 2.5 s for each package of some 630 bytes: the second download starts long before
    // the first one ends, unless the copies run one after the other.
    fake.set_download_rate(Some(256));
    let dir = tempfile::tempdir().unwrap();
    let stdout = assert_ok(&sync(&fake, dir.path(), JUNE_7, &[]));
    assert!(stdout.contains("approved:    2.317.0"), "{stdout}");
    assert_eq!(
        artifacts(dir.path()).len(),
        2,
        "linux-x64 and linux-arm64, the default platforms"
    );
    assert_eq!(fake.peak_downloads_in_flight(), 2);
}

#[test]
fn the_second_sync_downloads_nothing() {
    let fake = FakeGithub::start(FakeGithub::history());
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&sync(&fake, dir.path(), JUNE_7, &[]));
    let before = artifacts(dir.path());
    fake.clear_requests();

    let stdout = assert_ok(&sync(&fake, dir.path(), JUNE_7, &[]));
    assert!(
        stdout.contains("approved:    2.317.0 (unchanged)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unchanged since the last sync (304 Not Modified)"),
        "{stdout}"
    );
    assert!(stdout.contains("copied:      nothing"), "{stdout}");
    let requests = fake.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert!(
            request
                .path_and_query
                .starts_with("/repos/actions/runner/releases"),
            "the second sync only lists: {}",
            request.path_and_query
        );
        assert!(
            request.header("if-none-match").is_some(),
            "conditional: {request:?}"
        );
    }
    assert_eq!(artifacts(dir.path()), before);
}

#[test]
fn listing_follows_pagination_and_sends_the_api_headers() {
    let fake = FakeGithub::builder(FakeGithub::history())
        .max_per_page(30)
        .start()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stdout = assert_ok(&sync(
        &fake,
        dir.path(),
        JUNE_7,
        &[("GITHUB_TOKEN", "ghp_not-a-real-token")],
    ));
    assert!(stdout.contains("5 page(s) fetched"), "{stdout}");
    assert!(!stdout.contains("ghp_not-a-real-token"));
    let requests = fake.requests();
    let pages: Vec<&str> = requests
        .iter()
        .filter(|r| r.path_and_query.starts_with("/repos/"))
        .map(|r| r.path_and_query.as_str())
        .collect();
    assert_eq!(pages.len(), 5, "{pages:?}");
    assert!(pages[0].contains("per_page=100"), "{pages:?}");
    assert!(pages[4].contains("page=5"), "{pages:?}");
    for request in &requests {
        let is_api = request.path_and_query.starts_with("/repos/");
        assert_eq!(
            request.header("authorization"),
            is_api.then_some("Bearer ghp_not-a-real-token"),
            "the token goes to the API only: {}",
            request.path_and_query
        );
        assert!(request
            .header("user-agent")
            .unwrap()
            .starts_with("runner-mirror/"));
        if is_api {
            assert_eq!(
                request.header("accept"),
                Some("application/vnd.github+json")
            );
            assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        }
    }
}

/// Approves 2.317.0, then makes the sync of 2024-08-03 (which would approve 2.318.0) meet a
/// fault; returns the store's artifacts as they were before.
fn approved_then(
    fault: impl FnOnce(&FakeGithub),
) -> (
    FakeGithub,
    tempfile::TempDir,
    BTreeMap<String, String>,
    Output,
) {
    let fake = FakeGithub::start(FakeGithub::history());
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&sync(&fake, dir.path(), JUNE_7, &[]));
    let before = artifacts(dir.path());
    fake.clear_requests();
    fault(&fake);
    let out = sync(
        &fake,
        dir.path(),
        AUGUST_3,
        &[("GITHUB_TOKEN", "ghp_secret-in-env")],
    );
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !text(stream).contains("ghp_secret-in-env"),
            "the token is never printed"
        );
    }
    (fake, dir, before, out)
}

/// After a failed sync: the approved version and every artifact that was there are as they
/// were, and nothing unverified appeared. (A platform copied beside the one that failed may
/// have stored its file, verified: platforms are copied side by side.)
fn assert_unchanged(fake: &FakeGithub, dir: &tempfile::TempDir, before: &BTreeMap<String, String>) {
    let after = artifacts(dir.path());
    for (name, sha) in before {
        assert_eq!(after.get(name), Some(sha), "{name} changed or went away");
    }
    for (name, sha) in after.iter().filter(|(name, _)| !before.contains_key(*name)) {
        let key =
            ArtifactKey::parse(name).unwrap_or_else(|| panic!("{name} is not an artifact key"));
        assert_eq!(
            sha,
            &fake.sha256_hex(&key.version().to_string(), key.platform()),
            "{name} appeared unverified"
        );
    }
    assert_eq!(approved_version(dir.path()).as_deref(), Some("2.317.0"));
}

#[test]
fn a_wrong_sha256_stores_nothing_unverified_and_keeps_the_approved_version() {
    let (fake, dir, before, out) = approved_then(|fake| {
        fake.set_checksum_fault("2.318.0", "linux-x64", ChecksumFault::WrongSha256)
    });
    assert_fails(
        &out,
        "copying runners/v2.318.0/actions-runner-linux-x64-2.318.0.tar.gz",
    );
    assert_fails(&out, "SHA-256 mismatch");
    assert_unchanged(&fake, &dir, &before);
    assert!(!dir
        .path()
        .join("runners/v2.318.0/actions-runner-linux-x64-2.318.0.tar.gz")
        .exists());

    let status = runner_mirror()
        .args(["status", "--store"])
        .arg(dir.path())
        .output()
        .unwrap();
    let status = assert_ok(&status);
    assert!(
        status.contains("last failure: 2024-08-03T00:00:00Z channel stable: copying"),
        "{status}"
    );
    let served = Served::start(dir.path());
    let version = reqwest::blocking::get(format!("{}/stable/version", served.url())).unwrap();
    assert_eq!(
        version.text().unwrap(),
        "2.317.0\n",
        "the redirect keeps serving it"
    );
}

#[test]
fn a_truncated_download_copies_nothing() {
    let (fake, dir, before, out) = approved_then(|fake| fake.truncate_downloads(true));
    assert_fails(
        &out,
        "copying runners/v2.318.0/actions-runner-linux-x64-2.318.0.tar.gz",
    );
    assert_unchanged(&fake, &dir, &before);
}

#[test]
fn unverifiable_releases_are_not_candidates_and_the_record_says_why() {
    for (fault, why) in [
        (ChecksumFault::Placeholder, "2.318.0    linux-arm64: no verifiable SHA-256 for actions-runner-linux-arm64-2.318.0.tar.gz: asset digest absent, body marker"),
        (ChecksumFault::DigestMarkerDisagree, "2.318.0    linux-arm64: SHA-256 of actions-runner-linux-arm64-2.318.0.tar.gz disagrees"),
    ] {
        let (fake, dir, before, out) =
            approved_then(|fake| fake.set_checksum_fault("2.318.0", "linux-arm64", fault));
        let stdout = assert_ok(&out);
        assert!(stdout.contains("approved:    2.317.0 (unchanged)"), "{stdout}");
        assert!(stdout.contains(why), "{why:?} not in\n{stdout}");
        assert_unchanged(&fake, &dir, &before);
    }
}

#[test]
fn server_errors_are_retried_then_reported() {
    let (_fake, dir, _, out) = approved_then(|fake| fake.fail_api(2));
    let stdout = assert_ok(&out);
    assert!(
        stdout.contains("approved:    2.318.0 (changed from 2.317.0)"),
        "{stdout}"
    );
    assert!(dir
        .path()
        .join("runners/v2.318.0/actions-runner-linux-x64-2.318.0.tar.gz")
        .is_file());

    let (fake, dir, before, out) = approved_then(|fake| fake.fail_api(100));
    assert_fails(
        &out,
        "GitHub answered 500 Internal Server Error for http://127.0.0.1:",
    );
    assert_fails(&out, "(after 4 attempts): Server Error");
    assert_unchanged(&fake, &dir, &before);
}

#[test]
fn a_rate_limit_says_when_it_resets() {
    let reset = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let (fake, dir, before, out) = approved_then(|fake| fake.rate_limit(reset));
    assert_fails(&out, "GitHub API rate limit exceeded (403 Forbidden for");
    assert_fails(&out, "it resets at 2030-01-01T12:00:00Z");
    assert_unchanged(&fake, &dir, &before);
    let api_requests = fake
        .requests()
        .iter()
        .filter(|r| r.path_and_query.starts_with("/repos/"))
        .count();
    assert_eq!(api_requests, 1, "a rate limit is not retried");

    let (fake, dir, before, out) = approved_then(|fake| fake.rate_limit_429(90));
    assert_fails(&out, "retry after 90 s");
    assert_unchanged(&fake, &dir, &before);
}

#[test]
fn a_new_release_moves_the_channel_once_it_soaked() {
    let fake = FakeGithub::start(
        FakeGithub::history()
            .into_iter()
            .filter(|r| r.published_at <= Utc.with_ymd_and_hms(2024, 6, 7, 0, 0, 0).unwrap())
            .collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&sync(&fake, dir.path(), JUNE_7, &[]));
    fake.publish(FakeRelease::new(
        "2.317.1",
        Utc.with_ymd_and_hms(2024, 6, 8, 0, 0, 0).unwrap(),
    ));
    let stdout = assert_ok(&sync(&fake, dir.path(), "2024-06-10T00:00:00Z", &[]));
    assert!(
        stdout.contains("approved:    2.317.0 (unchanged)"),
        "2.317.1 is 2 days old:\n{stdout}"
    );
    assert!(
        stdout.contains("next change: 2024-06-11T00:00:00Z"),
        "{stdout}"
    );
    let stdout = assert_ok(&sync(&fake, dir.path(), "2024-06-11T00:00:00Z", &[]));
    assert!(
        stdout.contains("approved:    2.317.1 (changed from 2.317.0)"),
        "{stdout}"
    );
    let log = std::fs::read_to_string(dir.path().join("log/stable.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "one entry per change: {log}");
}

#[test]
fn a_corrupt_store_file_is_named_with_its_field() {
    let fake = FakeGithub::start(FakeGithub::history());
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&sync(&fake, dir.path(), JUNE_7, &[]));
    let state = dir.path().join("state/stable.json");
    let broken = std::fs::read_to_string(&state).unwrap().replacen(
        "\"revision\": 1",
        "\"revision\": \"one\"",
        1,
    );
    std::fs::write(&state, broken).unwrap();
    let out = sync(&fake, dir.path(), JUNE_7, &[]);
    assert_fails(
        &out,
        "state/stable.json is corrupt: field `revision`: invalid type: string \"one\"",
    );

    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/canary.json"),
        r#"{"platforms": ["linux-x86"]}"#,
    )
    .unwrap();
    let out = runner_mirror()
        .args([
            "sync",
            "--channel",
            "canary",
            "--now",
            JUNE_7,
            "--github-api",
            &fake.api_url(),
            "--store",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_fails(
        &out,
        "config/canary.json: attribute `platforms`: \"linux-x86\"",
    );
}

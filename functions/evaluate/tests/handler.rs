//! The handler called directly, as the Lambda runtime calls it, on the local store and against
//! the fake GitHub: no emulator, no AWS.

use std::path::PathBuf;

use e2e_tests::fake_github::{ChecksumFault, FakeGithub};
use evaluate::Evaluator;
use lambda_runtime::{Context, LambdaEvent};
use mirror::{ChannelName, ChannelState, GithubConfig, GithubSource, LogEntry, Stores};
use policy::ConfigDocument;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The first worked date of the SPEC's replay: 2.317.0 is approved with nothing relaxed. It is
/// the `time` of the scheduled event fixture.
const JUNE_7: &str = "2024-06-07T00:00:00Z";
/// 2.318.0 (published 2024-07-26) is soaked by then.
const AUGUST_3: &str = "2024-08-03T00:00:00Z";

/// A real EventBridge scheduled event, as a schedule rule sends it.
const SCHEDULED_EVENT: &str = include_str!("fixtures/scheduled-event.json");

/// One deployment of the function: the fake GitHub, a local store, and the evaluator on them.
struct Deployment {
    fake: FakeGithub,
    dir: TempDir,
    evaluator: Evaluator,
}

fn channel(name: &str) -> ChannelName {
    name.parse().unwrap()
}

fn deploy(channels: &[&str], channel_copies: bool) -> Deployment {
    let fake = FakeGithub::start(FakeGithub::history());
    let dir = tempfile::tempdir().unwrap();
    let mut config = GithubConfig::new(&fake.api_url(), fake.repo(), None).unwrap();
    // One attempt: a failing GitHub fails at once instead of after 1 + 2 + 4 s of back-off.
    config.attempts = 1;
    let source = GithubSource::new(config).unwrap();
    let evaluator = Evaluator::new(
        source,
        Stores::local(dir.path()),
        channels.iter().map(|name| channel(name)).collect(),
        channel_copies,
    );
    Deployment {
        fake,
        dir,
        evaluator,
    }
}

impl Deployment {
    async fn invoke(&self, payload: Value) -> Result<Value, String> {
        self.evaluator
            .handle(LambdaEvent::new(payload, Context::default()))
            .await
            .map(|report| serde_json::to_value(report).unwrap())
            .map_err(|e| e.to_string())
    }

    /// The store as another process sees it.
    fn stores(&self) -> Stores {
        Stores::local(self.dir.path())
    }

    async fn state(&self, name: &str) -> ChannelState {
        self.stores().state.state(&channel(name)).await.unwrap()
    }

    async fn approved(&self, name: &str) -> Option<String> {
        self.state(name)
            .await
            .approved
            .map(|a| a.version.to_string())
    }

    async fn log(&self, name: &str) -> Vec<LogEntry> {
        self.stores().state.log(&channel(name), 100).await.unwrap()
    }

    fn artifact(&self, version: &str, platform: &str) -> PathBuf {
        self.dir.path().join(format!(
            "runners/v{version}/{}",
            self.fake.asset_name(version, platform)
        ))
    }

    /// Approves 2.317.0 with the scheduled event of June 7.
    async fn approve_june_7(&self) {
        let report = self.invoke(scheduled(JUNE_7)).await.unwrap();
        assert_eq!(report["decisions"][0]["decision"]["version"], "2.317.0");
    }
}

/// The fixture event, scheduled at `time`.
fn scheduled(time: &str) -> Value {
    let mut event: Value = serde_json::from_str(SCHEDULED_EVENT).unwrap();
    event["time"] = time.into();
    event
}

/// The one decision of a single-channel report.
fn only_decision(report: &Value) -> &Value {
    let decisions = report["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{report:#}");
    &decisions[0]
}

#[tokio::test]
async fn a_scheduled_event_approves_and_copies_then_changes_nothing() {
    let deployment = deploy(&["stable"], false);
    let event: Value = serde_json::from_str(SCHEDULED_EVENT).unwrap();

    let report = deployment.invoke(event.clone()).await.unwrap();
    let first = only_decision(&report);
    assert_eq!(first["channel"], "stable");
    assert_eq!(first["dry_run"], false);
    assert_eq!(first["decision"]["result"], "chosen");
    assert_eq!(first["decision"]["version"], "2.317.0");
    assert_eq!(first["decision"]["evaluated_at"], JUNE_7);
    assert_eq!(first["decision"]["previous"], Value::Null);
    assert_eq!(first["decision"]["changed"], true);
    assert_eq!(
        first["copied"],
        json!([
            "runners/v2.317.0/actions-runner-linux-x64-2.317.0.tar.gz",
            "runners/v2.317.0/actions-runner-linux-arm64-2.317.0.tar.gz",
        ])
    );
    for platform in ["linux-x64", "linux-arm64"] {
        assert_eq!(
            std::fs::read(deployment.artifact("2.317.0", platform)).unwrap(),
            deployment.fake.asset_bytes("2.317.0", platform),
            "{platform}"
        );
    }
    let state = deployment.state("stable").await;
    assert_eq!(state.revision, 1);
    let approved = state.approved.as_ref().unwrap();
    assert_eq!(approved.version.to_string(), "2.317.0");
    assert_eq!(
        approved.approved_at.to_rfc3339(),
        "2024-06-07T00:00:00+00:00"
    );
    assert_eq!(state.last_failure, None);
    assert_eq!(deployment.log("stable").await.len(), 1);

    // The same event again (a retry, or the next run with nothing new): nothing changes.
    let report = deployment.invoke(event).await.unwrap();
    let again = only_decision(&report);
    assert_eq!(again["decision"]["version"], "2.317.0");
    assert_eq!(again["decision"]["previous"], "2.317.0");
    assert_eq!(again["decision"]["changed"], false);
    assert_eq!(again["copied"], json!([]));
    let state = deployment.state("stable").await;
    assert_eq!(state.approved.unwrap().version.to_string(), "2.317.0");
    // Only evaluations that change something or fail are logged.
    assert_eq!(deployment.log("stable").await.len(), 1);
}

#[tokio::test]
async fn a_manual_dry_run_decides_but_writes_nothing() {
    let deployment = deploy(&["stable"], false);
    deployment.approve_june_7().await;
    let before = deployment.state("stable").await;

    let report = deployment
        .invoke(json!({"channel": "stable", "dry_run": true, "now": AUGUST_3}))
        .await
        .unwrap();
    let preview = only_decision(&report);
    assert_eq!(preview["channel"], "stable");
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["decision"]["version"], "2.318.0");
    assert_eq!(preview["decision"]["previous"], "2.317.0");
    assert_eq!(preview["decision"]["changed"], true);
    assert_eq!(preview["copied"], json!([]));

    assert_eq!(deployment.state("stable").await, before);
    assert_eq!(deployment.log("stable").await.len(), 1);
    assert!(!deployment.dir.path().join("runners/v2.318.0").exists());
}

#[tokio::test]
async fn a_failing_github_fails_the_invocation_and_keeps_the_approved_version() {
    let deployment = deploy(&["stable"], false);
    deployment.approve_june_7().await;
    deployment.fake.fail_api(100);

    let err = deployment.invoke(scheduled(AUGUST_3)).await.unwrap_err();
    assert!(
        err.starts_with("1 of 1 channels failed, their approved versions stay: channel stable: listing releases: GitHub answered 500"),
        "{err}"
    );

    let state = deployment.state("stable").await;
    assert_eq!(state.approved.unwrap().version.to_string(), "2.317.0");
    let failure = state
        .last_failure
        .expect("the failure is noted in the state");
    assert_eq!(failure.at.to_rfc3339(), "2024-08-03T00:00:00+00:00");
    assert!(
        failure.error.contains("GitHub answered 500"),
        "{}",
        failure.error
    );
    let log = deployment.log("stable").await;
    assert!(
        log[0]
            .error
            .as_deref()
            .unwrap()
            .contains("listing releases"),
        "{log:?}"
    );

    // GitHub is back: the next run approves 2.318.0 and clears the failure.
    deployment.fake.fail_api(0);
    deployment.invoke(scheduled(AUGUST_3)).await.unwrap();
    let state = deployment.state("stable").await;
    assert_eq!(state.approved.unwrap().version.to_string(), "2.318.0");
    assert_eq!(state.last_failure, None);
}

#[tokio::test]
async fn a_checksum_mismatch_fails_and_copies_nothing() {
    let deployment = deploy(&["stable"], false);
    deployment.approve_june_7().await;
    deployment
        .fake
        .set_checksum_fault("2.318.0", "linux-x64", ChecksumFault::WrongSha256);

    let err = deployment.invoke(scheduled(AUGUST_3)).await.unwrap_err();
    assert!(
        err.contains(
            "channel stable: copying runners/v2.318.0/actions-runner-linux-x64-2.318.0.tar.gz: "
        ),
        "{err}"
    );
    assert_eq!(
        deployment.approved("stable").await.as_deref(),
        Some("2.317.0")
    );
    assert!(deployment.state("stable").await.last_failure.is_some());
    assert!(!deployment.artifact("2.318.0", "linux-x64").exists());
}

#[tokio::test]
async fn every_channel_is_evaluated_even_when_one_fails() {
    let deployment = deploy(&["canary", "stable"], false);
    // A pin to a version GitHub never published: canary's policy cannot decide.
    let pin = ConfigDocument {
        pin_version: Some("2.999.0".into()),
        pin_reason: Some("a typo".into()),
        ..ConfigDocument::default()
    };
    deployment
        .stores()
        .state
        .save_config(&channel("canary"), &pin)
        .await
        .unwrap();

    let err = deployment.invoke(scheduled(JUNE_7)).await.unwrap_err();
    assert!(
        err.starts_with("1 of 2 channels failed, their approved versions stay: channel canary: pinned version 2.999.0 cannot be served"),
        "{err}"
    );
    assert_eq!(
        deployment.approved("stable").await.as_deref(),
        Some("2.317.0")
    );
    assert_eq!(deployment.approved("canary").await, None);
    assert!(deployment.state("canary").await.last_failure.is_some());
}

#[tokio::test]
async fn channel_copies_follow_the_approved_version() {
    let deployment = deploy(&["stable"], true);
    deployment.approve_june_7().await;
    let copy = deployment
        .dir
        .path()
        .join("channels/stable/actions-runner-linux-x64.tar.gz");
    assert_eq!(
        std::fs::read(copy).unwrap(),
        deployment.fake.asset_bytes("2.317.0", "linux-x64")
    );
}

#[tokio::test]
async fn a_manual_invocation_names_a_configured_channel() {
    let deployment = deploy(&["stable"], false);
    let err = deployment
        .invoke(json!({"channel": "canary"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "channel canary is not one this function evaluates (RUNNER_MIRROR_CHANNELS is stable)"
    );
    assert!(!deployment.dir.path().join("state").exists());

    // Without a channel, a manual invocation evaluates them all, at the given time.
    let report = deployment.invoke(json!({"now": JUNE_7})).await.unwrap();
    assert_eq!(only_decision(&report)["decision"]["version"], "2.317.0");
}

#[tokio::test]
async fn malformed_payloads_say_what_is_accepted() {
    let deployment = deploy(&["stable"], false);
    let cases = [
        (
            json!({"chanel": "stable"}),
            "the manual invocation does not parse: unknown field `chanel`",
        ),
        (
            json!("stable"),
            "the event is a JSON string, not an object",
        ),
        (
            json!({"detail-type": "Object Created", "source": "aws.s3", "time": JUNE_7, "detail": {}}),
            "the EventBridge event is a \"Object Created\" from \"aws.s3\", not a \"Scheduled Event\" from \"aws.events\"",
        ),
    ];
    for (payload, why) in cases {
        let err = deployment.invoke(payload.clone()).await.unwrap_err();
        assert!(err.starts_with(why), "{payload}: {err}");
        assert!(
            err.contains("accepted: an EventBridge scheduled event"),
            "{payload}: {err}"
        );
    }
    assert!(!deployment.dir.path().join("state").exists());
}

/// Two invocations of the same scheduled event at once (EventBridge delivers at least once, and
/// a retry can overlap a manual run), from an empty store, several times over since it is a
/// race: both finish, at most the loser fails and only because it lost the race, and the state
/// is the winner's.
/// The loser may meet the winner's file in `ArtifactStore::put` (`Occupied`); the same
/// SHA-256 there counts as stored, so it goes on and loses only at the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_leave_a_consistent_state() {
    for round in 0..8 {
        let deployment = deploy(&["stable"], false);
        let event = scheduled(JUNE_7);
        let (one, two) = tokio::join!(
            deployment.invoke(event.clone()),
            deployment.invoke(event.clone())
        );
        assert!(one.is_ok() || two.is_ok(), "round {round}: {one:?} {two:?}");
        for result in [&one, &two] {
            if let Err(err) = result {
                assert!(
                    err.contains("channel stable changed concurrently"),
                    "round {round}: {err}"
                );
            }
        }
        let state = deployment.state("stable").await;
        assert_eq!(
            state
                .approved
                .as_ref()
                .map(|a| a.version.to_string())
                .as_deref(),
            Some("2.317.0"),
            "round {round}: {state:?}"
        );
        assert_eq!(state.last_failure, None, "round {round}");
        for platform in ["linux-x64", "linux-arm64"] {
            assert_eq!(
                std::fs::read(deployment.artifact("2.317.0", platform)).unwrap(),
                deployment.fake.asset_bytes("2.317.0", platform)
            );
        }
        // The next run sees the winner's state and changes nothing.
        let report = deployment.invoke(event).await.unwrap();
        assert_eq!(only_decision(&report)["decision"]["changed"], false);
    }
}

/// What holds already, whoever wins: both invocations finish, nothing half-written is
/// visible, and the next run converges on 2.317.0 with every artifact intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_finish_and_the_next_run_converges() {
    let deployment = deploy(&["stable"], false);
    let event = scheduled(JUNE_7);
    let (one, two) = tokio::join!(
        deployment.invoke(event.clone()),
        deployment.invoke(event.clone())
    );
    for result in [&one, &two] {
        if let Err(err) = result {
            assert!(
                err.contains("changed concurrently") || err.contains("already holds"),
                "{err}"
            );
        }
    }
    if let Some(approved) = deployment.state("stable").await.approved {
        assert_eq!(approved.version.to_string(), "2.317.0");
    }
    let report = deployment.invoke(event).await.unwrap();
    assert_eq!(only_decision(&report)["decision"]["version"], "2.317.0");
    assert_eq!(
        deployment.approved("stable").await.as_deref(),
        Some("2.317.0")
    );
    assert_eq!(deployment.state("stable").await.last_failure, None);
    for platform in ["linux-x64", "linux-arm64"] {
        assert_eq!(
            std::fs::read(deployment.artifact("2.317.0", platform)).unwrap(),
            deployment.fake.asset_bytes("2.317.0", platform)
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(deployment.dir.path().join("runners/v2.317.0"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

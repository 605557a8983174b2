//! Both Lambda functions end to end under the Lambda emulator (`cargo lambda watch`): `evaluate`
//! invoked with a real EventBridge scheduled event, `redirect` asked through its Function URL,
//! DynamoDB and S3 on moto_server, releases from the fake GitHub.

use std::thread;

use e2e_tests::fake_github::{ChecksumFault, FakeGithub, FakeRelease};
use e2e_tests::lambda::{Emulator, INVOKE_TIMEOUT};
use e2e_tests::moto::{create_bucket, create_table, moto, unique_name};
use e2e_tests::workspace;
use serde_json::Value;
use sha2::Digest;

/// The first approval: 2.317.0 (published 2024-05-30), the newest release on June 7.
const JUNE_7: &str = "2024-06-07T00:00:00Z";
/// 2.318.0, published 2024-07-26, has soaked its week by August 3.
const AUGUST_3: &str = "2024-08-03T00:00:00Z";

/// A table and a bucket on moto, the fake GitHub as of June 7, and the two functions under
/// their emulators, configured as the template configures them.
struct Deployment {
    fake: FakeGithub,
    evaluate: Emulator,
    redirect: Emulator,
    http: reqwest::blocking::Client,
}

fn deploy(evaluate_concurrency: u32) -> Deployment {
    let june_7: chrono::DateTime<chrono::Utc> = JUNE_7.parse().unwrap();
    let releases = FakeGithub::history()
        .into_iter()
        .filter(|r| r.published_at < june_7)
        .collect();
    let fake = FakeGithub::start(releases);
    let (table, bucket) = (unique_name("lambda"), unique_name("lambda"));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let config = moto().sdk_config().await;
        create_table(&config, &table).await;
        create_bucket(&config, &bucket).await;
    });
    let mut env = moto().env();
    env.extend([
        ("RUNNER_MIRROR_TABLE", table),
        ("RUNNER_MIRROR_BUCKET", bucket),
        ("RUST_LOG", "info".to_owned()),
    ]);
    let mut evaluate_env = env.clone();
    evaluate_env.push(("GITHUB_API_URL", fake.api_url()));
    // Every request reads the state, so that a new approval shows at once.
    env.push(("RUNNER_MIRROR_STATE_TTL_SECONDS", "0".to_owned()));
    Deployment {
        evaluate: Emulator::start("evaluate", &evaluate_env, evaluate_concurrency),
        redirect: Emulator::start("redirect", &env, 1),
        fake,
        http: reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(INVOKE_TIMEOUT)
            .build()
            .unwrap(),
    }
}

/// The EventBridge scheduled event the template's rule sends, at `time`.
fn scheduled(time: &str) -> Value {
    let path = workspace().join("functions/evaluate/tests/fixtures/scheduled-event.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text).unwrap();
    event["time"] = time.into();
    event
}

impl Deployment {
    /// Invokes `evaluate` with the scheduled event of `time`: the decision of the only channel,
    /// or the invocation's error.
    fn invoke_at(&self, time: &str) -> Result<Value, String> {
        let result = self.evaluate.invoke(&scheduled(time))?;
        let decisions = result["decisions"].as_array().expect("a list of decisions");
        assert_eq!(decisions.len(), 1, "{result}");
        Ok(decisions[0]["decision"].clone())
    }

    /// Downloads the runner for linux-x64 the way a runner does: through the Function URL,
    /// following the 302 to the presigned moto URL. Checks the headers and the bytes against
    /// the release, and returns the version served.
    fn download(&self) -> String {
        let url = self.redirect.function_url("/stable/linux-x64");
        let answer = self.http.get(&url).send().unwrap();
        assert_eq!(answer.status(), 302, "{url}: {:?}", answer.text());
        let header = |name: &str| {
            answer.headers()[name]
                .to_str()
                .unwrap_or_else(|_| panic!("{name} is text"))
                .to_owned()
        };
        assert_eq!(header("cache-control"), "no-store");
        let version = header("x-runner-version");
        let location = header("location");
        assert!(
            location.starts_with(moto().endpoint()) && location.contains("X-Amz-Signature="),
            "a presigned moto URL: {location}"
        );
        let bytes = reqwest::blocking::get(&location).unwrap().bytes().unwrap();
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        assert_eq!(sha256, self.fake.sha256_hex(&version, "linux-x64"));
        assert_eq!(header("x-runner-sha256"), sha256);
        version
    }
}

#[test]
fn scheduled_evaluations_move_the_redirect_and_failures_leave_it() {
    let deployment = deploy(1);
    let nothing_yet = deployment
        .http
        .get(deployment.redirect.function_url("/stable/linux-x64"))
        .send()
        .unwrap();
    assert_eq!(nothing_yet.status(), 503, "nothing is approved yet");

    let decision = deployment.invoke_at(JUNE_7).unwrap();
    assert_eq!(decision["version"], "2.317.0", "{decision}");
    assert_eq!(deployment.download(), "2.317.0");

    deployment.fake.publish(FakeRelease::new(
        "2.318.0",
        "2024-07-26T15:07:25Z".parse().unwrap(),
    ));
    // Every attempt the GitHub source makes answers 500.
    deployment.fake.fail_api(4);
    let down = deployment.invoke_at(AUGUST_3).unwrap_err();
    assert!(down.contains(r#""errorType":"EvaluationFailed""#), "{down}");
    assert!(down.contains("GitHub answered 500"), "{down}");
    assert_eq!(deployment.download(), "2.317.0", "after GitHub failed");

    deployment
        .fake
        .set_checksum_fault("2.318.0", "linux-x64", ChecksumFault::WrongSha256);
    let mismatch = deployment.invoke_at(AUGUST_3).unwrap_err();
    assert!(
        mismatch.contains("copying runners/v2.318.0/actions-runner-linux-x64-2.318.0.tar.gz"),
        "names the artifact: {mismatch}"
    );
    assert_eq!(
        deployment.download(),
        "2.317.0",
        "after a checksum mismatch"
    );

    deployment.fake.clear_checksum_faults();
    let decision = deployment.invoke_at(AUGUST_3).unwrap();
    assert_eq!(decision["version"], "2.318.0", "{decision}");
    assert_eq!(decision["changed"], true);
    assert_eq!(deployment.download(), "2.318.0");
}

#[test]
fn concurrent_invocations_end_with_one_consistent_state() {
    // Two instances, as when EventBridge delivers the same event twice.
    let deployment = deploy(2);
    let (one, two) = thread::scope(|s| {
        let one = s.spawn(|| deployment.invoke_at(JUNE_7));
        let two = s.spawn(|| deployment.invoke_at(JUNE_7));
        (one.join().unwrap(), two.join().unwrap())
    });
    assert!(one.is_ok() || two.is_ok(), "{one:?} {two:?}");
    for result in [&one, &two] {
        match result {
            Ok(decision) => assert_eq!(decision["version"], "2.317.0", "{decision}"),
            // The loser of the race is told so; it wrote nothing the winner did not.
            Err(err) => assert!(err.contains("changed concurrently"), "{err}"),
        }
    }
    assert_eq!(deployment.download(), "2.317.0");
    let again = deployment.invoke_at(JUNE_7).unwrap();
    assert_eq!(again["version"], "2.317.0");
    assert_eq!(again["changed"], false, "{again}");
}

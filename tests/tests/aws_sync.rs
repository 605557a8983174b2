//! `runner-mirror sync` and `serve` on the AWS stores: the fake GitHub, DynamoDB and S3 on
//! moto_server, and the real binary configured the way AWS users configure tools.

use std::process::{Command, Output};

use e2e_tests::fake_github::FakeGithub;
use e2e_tests::moto::{create_bucket, create_table, moto, unique_name};
use e2e_tests::{runner_mirror, Served};
use sha2::Digest;

struct Aws {
    table: String,
    bucket: String,
    s3: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
}

fn aws() -> Aws {
    let (table, bucket) = (unique_name("e2e"), unique_name("e2e"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s3 = runtime.block_on(async {
        let config = moto().sdk_config().await;
        create_table(&config, &table).await;
        create_bucket(&config, &bucket).await
    });
    Aws {
        table,
        bucket,
        s3,
        runtime,
    }
}

impl Aws {
    /// The bytes of an object of the bucket.
    fn object(&self, key: &str) -> Vec<u8> {
        self.runtime.block_on(async {
            let object = self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await;
            let object = object.unwrap_or_else(|e| panic!("no object {key}: {e:?}"));
            object.body.collect().await.unwrap().into_bytes().to_vec()
        })
    }

    /// `runner-mirror` with the AWS stores selected through the environment.
    fn command(&self) -> Command {
        let mut command = runner_mirror();
        command
            .envs(moto().env())
            .env("RUNNER_MIRROR_TABLE", &self.table)
            .env("RUNNER_MIRROR_BUCKET", &self.bucket);
        command
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn sync_to_s3_then_serve_a_presigned_redirect() {
    let fake = FakeGithub::start(FakeGithub::history());
    let aws = aws();
    let sync = |now: &str| {
        aws.command()
            .args([
                "sync",
                "--channel-copies",
                "--now",
                now,
                "--github-api",
                &fake.api_url(),
            ])
            .output()
            .unwrap()
    };
    let stdout = assert_ok(&sync("2024-06-07T00:00:00Z"));
    assert!(
        stdout.contains("approved:    2.317.0 (changed from none)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("copied:      runners/v2.317.0/actions-runner-linux-x64-2.317.0.tar.gz")
    );
    let again = assert_ok(&sync("2024-06-07T00:00:00Z"));
    assert!(again.contains("copied:      nothing"), "{again}");
    assert_eq!(
        aws.object("channels/stable/actions-runner-linux-x64.tar.gz"),
        fake.asset_bytes("2.317.0", "linux-x64"),
        "the fixed-key copy for `aws s3 cp`"
    );

    let status = assert_ok(&aws.command().arg("status").output().unwrap());
    assert!(
        status.starts_with("stable: 2.317.0 (approved 2024-06-07T00:00:00Z)"),
        "{status}"
    );

    let served = Served::start_with(aws.command());
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = client
        .get(format!("{}/stable/linux-x64", served.url()))
        .send()
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!(
            "{}/{}/runners/v2.317.0/",
            moto().endpoint(),
            aws.bucket
        )),
        "a presigned path-style URL of moto: {location}"
    );
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let bytes = reqwest::blocking::get(&location).unwrap().bytes().unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        fake.sha256_hex("2.317.0", "linux-x64")
    );
    assert_eq!(
        redirect.headers()["x-runner-sha256"],
        fake.sha256_hex("2.317.0", "linux-x64").as_str()
    );
}

#[test]
fn a_table_without_a_bucket_is_refused_clearly() {
    let out = runner_mirror()
        .envs(moto().env())
        .env("RUNNER_MIRROR_TABLE", "some-table")
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "--table (RUNNER_MIRROR_TABLE) and --bucket (RUNNER_MIRROR_BUCKET) go together"
        ),
        "{stderr}"
    );

    let out = runner_mirror()
        .envs(moto().env())
        .args([
            "status",
            "--table",
            "no-such-table",
            "--bucket",
            "no-such-bucket",
        ])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no-such-table"), "{stderr}");
}

#[test]
fn operator_changes_on_dynamodb_record_the_aws_identity() {
    let fake = FakeGithub::start(FakeGithub::history());
    let aws = aws();
    let api = fake.api_url();
    let at = [
        "--now",
        "2024-06-07T00:00:00Z",
        "--github-api",
        api.as_str(),
    ];
    assert_ok(&aws.command().arg("sync").args(at).output().unwrap());
    let pinned = assert_ok(
        &aws.command()
            .args(["override", "pin", "2.316.1", "--reason", "canary"])
            .args(at)
            .output()
            .unwrap(),
    );
    assert!(
        pinned.contains("pin 2.316.1 (canary) (by arn:aws:"),
        "{pinned}"
    );
    assert!(pinned.contains("decided by a pin"), "{pinned}");
    let shown = assert_ok(
        &aws.command()
            .args(["override", "show"])
            .args(at)
            .output()
            .unwrap(),
    );
    assert!(shown.contains("DynamoDB table"), "{shown}");
    assert!(
        shown.contains("override:   pin 2.316.1 (canary) [active]"),
        "{shown}"
    );
    let history = assert_ok(
        &aws.command()
            .args(["history", "--limit", "1"])
            .output()
            .unwrap(),
    );
    assert!(
        history.contains("override: pin 2.316.1 (canary) by arn:aws:"),
        "{history}"
    );
}

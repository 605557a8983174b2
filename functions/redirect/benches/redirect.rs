//! `Redirect::handle` for `GET /stable/linux-x64` with a warm state cache: what a runner's
//! request costs the function once the channel's state is in memory. The artifact store returns
//! a fixed URL, so the figure is the handler's, not S3's or the disk's.
//!
//! The state is realistic: its last decision comes from the policy over the real release
//! history, with every dropped release listed, since the cache hands out a copy per request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use lambda_http::http::StatusCode;
use mirror::verify::ByteStream;
use mirror::{
    Approved, ArtifactKey, ArtifactStore, ChannelName, ChannelState, LocalStore, StateStore,
    StoreError, StoredArtifact,
};
use policy::{AssetCheck, ChannelConfig, Evaluation, Platform, Sha256};
use redirect::Redirect;

const EVENT: &str = include_str!("../tests/fixtures/function-url-get.json");
const HISTORY: &str = include_str!("../../../tests/fixtures/actions-runner-releases.json");

/// The length and shape of a real presigned GET URL.
const PRESIGNED: &str = "https://runners.s3.eu-west-1.amazonaws.com/runners/v2.317.0/\
    actions-runner-linux-x64-2.317.0.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=ASIAEXAMPLEEXAMPLE12%2F20240725%2Feu-west-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20240725T061458Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
    &X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLETOKENEXAMPLETOKENEXAMPLETOKENEXAMPLE\
    &X-Amz-Signature=3f5d0a6e1b2c4d5e6f7081923f5d0a6e1b2c4d5e6f7081923f5d0a6e1b2c4d5e";

struct FixedUrl;

#[async_trait]
impl ArtifactStore for FixedUrl {
    async fn has(&self, _: &ArtifactKey, _: &Sha256) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn put(
        &self,
        _: &ArtifactKey,
        _: &policy::Artifact,
        _: ByteStream,
    ) -> Result<(), StoreError> {
        unreachable!("the redirect never writes")
    }

    async fn download_url(&self, _: &ArtifactKey) -> Result<String, StoreError> {
        Ok(PRESIGNED.to_owned())
    }

    async fn copy_to_channel(&self, _: &ChannelName, _: &ArtifactKey) -> Result<(), StoreError> {
        unreachable!("the redirect never writes")
    }
}

/// `stable` as an evaluation on 2024-07-25 over the real history leaves it.
fn stable_state() -> ChannelState {
    let releases = policy::parse_releases(HISTORY).expect("the history parses");
    let decision = policy::decide(&Evaluation {
        releases: &releases,
        now: "2024-07-25T06:00:00Z".parse().unwrap(),
        previous: None,
        config: &ChannelConfig::default(),
        assets: AssetCheck::Ignored,
    });
    let version = decision.served().expect("a version is approved").clone();
    let artifacts = [Platform::LinuxX64, Platform::LinuxArm64, Platform::LinuxArm]
        .into_iter()
        .map(|platform| {
            let artifact = StoredArtifact {
                key: ArtifactKey::new(version.clone(), platform),
                sha256: Sha256::from_bytes([7; 32]),
                size: 180_000_000,
            };
            (platform, artifact)
        })
        .collect();
    ChannelState {
        revision: 1,
        approved: Some(Approved {
            version,
            approved_at: decision.evaluated_at,
            artifacts,
        }),
        last_decision: Some(decision),
        last_failure: None,
    }
}

fn handle(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(LocalStore::new(dir.path()));
    let stable: ChannelName = "stable".parse().unwrap();
    runtime
        .block_on(local.commit(&stable, &stable_state()))
        .unwrap();
    let redirect = Redirect::new(local, Arc::new(FixedUrl), Duration::from_secs(3600));
    let request = || lambda_http::request::from_str(EVENT).unwrap();
    let send = |request| runtime.block_on(redirect.handle(request)).unwrap();
    // Warms the cache, and checks that the benchmark measures a redirect.
    let response = send(request());
    assert_eq!(response.status(), StatusCode::FOUND);

    // Building the request is lambda_http's work, done before the handler runs: not measured.
    c.bench_function("handle GET /stable/linux-x64, warm", |b| {
        b.iter_batched(request, send, BatchSize::SmallInput)
    });

    // The same with the Lambda's JSON log line, written to nowhere.
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        c.bench_function("handle GET /stable/linux-x64, warm, JSON log", |b| {
            b.iter_batched(request, send, BatchSize::SmallInput)
        });
    });
}

criterion_group!(benches, handle);
criterion_main!(benches);

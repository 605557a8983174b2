//! One contract for every store: each case runs against the local directory store and against
//! the AWS stores (DynamoDB and S3 on moto_server), which must behave the same.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use e2e_tests::moto::{create_bucket, create_table, moto, unique_name};
use mirror::verify::{verified, ByteStream};
use mirror::{
    Approved, ArtifactKey, ArtifactStore, ChannelName, ChannelState, DynamoStore, LocalStore,
    LogEntry, S3Store, StateStore, StoreError, StoredArtifact,
};
use policy::{Artifact, ConfigDocument, Platform, Sha256, Version};
use sha2::Digest;

struct Backend {
    state: Arc<dyn StateStore>,
    artifacts: Arc<dyn ArtifactStore>,
    /// Reads an artifact's bytes straight from where the store keeps it.
    kind: Kind,
    _dir: Option<tempfile::TempDir>,
}

enum Kind {
    Local(Arc<LocalStore>),
    Aws {
        s3: aws_sdk_s3::Client,
        bucket: String,
    },
}

async fn local() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::new(dir.path()));
    Backend {
        state: store.clone(),
        artifacts: store.clone(),
        kind: Kind::Local(store),
        _dir: Some(dir),
    }
}

async fn aws() -> Backend {
    let config = moto().sdk_config().await;
    let table = unique_name("contract");
    let bucket = unique_name("contract");
    create_table(&config, &table).await;
    let s3 = create_bucket(&config, &bucket).await;
    Backend {
        state: Arc::new(DynamoStore::new(&config, &table).await.unwrap()),
        artifacts: Arc::new(S3Store::new(&config, &bucket).await.unwrap()),
        kind: Kind::Aws { s3, bucket },
        _dir: None,
    }
}

impl Backend {
    /// The bytes stored under `key`, or `None`; read behind the store's back.
    async fn stored(&self, key: &ArtifactKey) -> Option<Vec<u8>> {
        match &self.kind {
            Kind::Local(store) => std::fs::read(store.root().join(key.to_string())).ok(),
            Kind::Aws { s3, bucket } => {
                let object = s3
                    .get_object()
                    .bucket(bucket)
                    .key(key.to_string())
                    .send()
                    .await
                    .ok()?;
                Some(object.body.collect().await.unwrap().into_bytes().to_vec())
            }
        }
    }

    /// Nothing half-written is left: no temporary file, no open multipart upload.
    async fn assert_no_leftovers(&self, key: &ArtifactKey) {
        match &self.kind {
            Kind::Local(store) => {
                let dir = store.root().join(key.to_string());
                let dir = dir.parent().unwrap();
                let names: Vec<_> = std::fs::read_dir(dir)
                    .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
                    .unwrap_or_default();
                assert!(names.is_empty(), "left in {}: {names:?}", dir.display());
            }
            Kind::Aws { s3, bucket } => {
                let uploads = s3
                    .list_multipart_uploads()
                    .bucket(bucket)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    uploads.uploads().is_empty(),
                    "multipart uploads left: {:?}",
                    uploads.uploads()
                );
            }
        }
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local() {
                    super::$case(super::local().await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn aws() {
                    super::$case(super::aws().await).await
                }
            }
        )*
    };
}

contract!(
    state_round_trip,
    concurrent_commits_have_one_winner,
    decision_log_is_newest_first,
    config_round_trip_and_validation,
    artifact_upload_is_verified_and_never_overwritten,
    sha256_mismatch_leaves_nothing,
    failure_mid_stream_leaves_nothing,
);

fn stable() -> ChannelName {
    "stable".parse().unwrap()
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, day, 0, 0, 0).unwrap()
}

fn sha(data: &[u8]) -> Sha256 {
    Sha256::from_bytes(sha2::Sha256::digest(data).into())
}

fn key() -> ArtifactKey {
    ArtifactKey::new(Version::new(2, 317, 0), Platform::LinuxX64)
}

fn artifact_for(data: &[u8]) -> Artifact {
    Artifact {
        platform: Platform::LinuxX64,
        name: key().asset_name(),
        size: data.len() as u64,
        download_url: "https://github.com/actions/runner/releases/download/v2.317.0/x".into(),
        sha256: sha(data),
    }
}

/// `data` in 1 MiB chunks, then optionally an error instead of the end.
fn chunks(data: &[u8], fail: bool) -> ByteStream {
    let mut items: Vec<io::Result<Bytes>> = data
        .chunks(1 << 20)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    if fail {
        items.push(Err(io::Error::other("connection reset by peer")));
    }
    Box::pin(futures_util::stream::iter(items))
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn state(revision: u64, version: &str) -> ChannelState {
    let version: Version = version.parse().unwrap();
    let key = ArtifactKey::new(version.clone(), Platform::LinuxX64);
    ChannelState {
        revision,
        approved: Some(Approved {
            version,
            approved_at: at(7),
            artifacts: [(
                Platform::LinuxX64,
                StoredArtifact {
                    key,
                    sha256: sha(b"x"),
                    size: 1,
                },
            )]
            .into(),
        }),
        last_decision: None,
        last_failure: None,
    }
}

async fn state_round_trip(b: Backend) {
    assert_eq!(
        b.state.state(&stable()).await.unwrap(),
        ChannelState::default()
    );
    let first = state(1, "2.317.0");
    b.state.commit(&stable(), &first).await.unwrap();
    assert_eq!(b.state.state(&stable()).await.unwrap(), first);
    let second = state(2, "2.318.0");
    b.state.commit(&stable(), &second).await.unwrap();
    assert_eq!(b.state.state(&stable()).await.unwrap(), second);
    assert_eq!(b.state.channels().await.unwrap(), [stable()]);
}

async fn concurrent_commits_have_one_winner(b: Backend) {
    let (one, two) = (state(1, "2.317.0"), state(1, "2.318.0"));
    let channel = stable();
    let (a, c) = tokio::join!(
        b.state.commit(&channel, &one),
        b.state.commit(&channel, &two)
    );
    let stored = b.state.state(&stable()).await.unwrap();
    match (a, c) {
        (Ok(()), Err(StoreError::Conflict { found: 1, .. })) => assert_eq!(stored, one),
        (Err(StoreError::Conflict { found: 1, .. }), Ok(())) => assert_eq!(stored, two),
        other => panic!("exactly one commit must win: {other:?}"),
    }
    let stale = b
        .state
        .commit(&stable(), &state(1, "2.319.0"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::Conflict {
                expected: 0,
                found: 1,
                ..
            }
        ),
        "{stale}"
    );
    assert!(
        stale.to_string().contains("changed concurrently"),
        "{stale}"
    );
}

async fn decision_log_is_newest_first(b: Backend) {
    let entry = |day, error: &str| LogEntry {
        channel: stable(),
        at: at(day),
        decision: None,
        error: Some(error.to_owned()),
        change: None,
    };
    for e in [entry(1, "first"), entry(2, "second"), entry(2, "third")] {
        b.state.append_log(&e).await.unwrap();
    }
    let errors = |entries: Vec<LogEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.error.unwrap()).collect()
    };
    assert_eq!(
        errors(b.state.log(&stable(), 10).await.unwrap()),
        ["third", "second", "first"]
    );
    assert_eq!(
        errors(b.state.log(&stable(), 2).await.unwrap()),
        ["third", "second"]
    );
    let other: ChannelName = "canary".parse().unwrap();
    assert!(b.state.log(&other, 10).await.unwrap().is_empty());
}

async fn config_round_trip_and_validation(b: Backend) {
    assert_eq!(
        b.state.config_document(&stable()).await.unwrap(),
        ConfigDocument::default()
    );
    let document = ConfigDocument {
        soak_days: Some(10.0),
        pin_version: Some("2.316.1".into()),
        pin_reason: Some("canary".into()),
        platforms: Some(vec!["linux-x64".into()]),
        updated_by: Some("alice".into()),
        ..Default::default()
    };
    b.state.save_config(&stable(), &document).await.unwrap();
    assert_eq!(b.state.config_document(&stable()).await.unwrap(), document);
    let config = b.state.config(&stable()).await.unwrap();
    assert_eq!(config.overrides.pin.unwrap().version.to_string(), "2.316.1");
    assert_eq!(config.policy.soak(), chrono::TimeDelta::days(10));

    let invalid = ConfigDocument {
        min_age_days: Some(12.0),
        ..document
    };
    b.state.save_config(&stable(), &invalid).await.unwrap();
    let error = b.state.config(&stable()).await.unwrap_err().to_string();
    assert!(
        error.contains("parameters: min_age (12 days) must not exceed soak (10 days)")
            && error.contains(&b.state.config_location(&stable())),
        "{error}"
    );
}

async fn artifact_upload_is_verified_and_never_overwritten(b: Backend) {
    let body = data(3 << 20);
    let artifact = artifact_for(&body);
    assert!(!b.artifacts.has(&key(), &artifact.sha256).await.unwrap());
    let stream = verified(chunks(&body, false), artifact.size, artifact.sha256);
    b.artifacts.put(&key(), &artifact, stream).await.unwrap();
    assert!(b.artifacts.has(&key(), &artifact.sha256).await.unwrap());
    assert!(!b
        .artifacts
        .has(&key(), &sha(b"something else"))
        .await
        .unwrap());
    assert_eq!(b.stored(&key()).await.as_deref(), Some(body.as_slice()));

    let other = data(1000);
    let again = verified(chunks(&other, false), other.len() as u64, sha(&other));
    let error = b
        .artifacts
        .put(&key(), &artifact_for(&other), again)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Occupied { .. }), "{error}");
    assert_eq!(
        b.stored(&key()).await.as_deref(),
        Some(body.as_slice()),
        "unchanged"
    );
    assert!(!b.artifacts.download_url(&key()).await.unwrap().is_empty());
}

async fn sha256_mismatch_leaves_nothing(b: Backend) {
    let body = data(2 << 20);
    let mut artifact = artifact_for(&body);
    artifact.sha256 = sha(b"what the release claimed");
    let stream = verified(chunks(&body, false), artifact.size, artifact.sha256);
    let error = b
        .artifacts
        .put(&key(), &artifact, stream)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("SHA-256 mismatch"), "{error}");
    assert_eq!(b.stored(&key()).await, None);
    assert!(!b.artifacts.has(&key(), &sha(&body)).await.unwrap());
    b.assert_no_leftovers(&key()).await;
}

async fn failure_mid_stream_leaves_nothing(b: Backend) {
    // 10 MiB, so the AWS store has uploaded a part before the failure.
    let body = data(10 << 20);
    let artifact = artifact_for(&body);
    let stream = verified(chunks(&body, true), artifact.size + 1, artifact.sha256);
    let error = b
        .artifacts
        .put(&key(), &artifact, stream)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("connection reset by peer"),
        "{error}"
    );
    assert_eq!(b.stored(&key()).await, None);
    b.assert_no_leftovers(&key()).await;
}

//! `S3Store` against a real S3 wire protocol (moto): uploads become visible only after a clean,
//! verified stream, are never overwritten, leave no multipart upload behind on failure, keep
//! their SHA-256 and source, and can be downloaded through presigned URLs.

use std::io;

use aws_sdk_s3::Client;
use bytes::Bytes;
use e2e_tests::moto::{moto, unique_name};
use futures_util::stream;
use mirror::verify::{verified, ByteStream};
use mirror::{ArtifactKey, ArtifactStore, ChannelName, S3Store, StoreError};
use policy::{Artifact, Platform, Sha256, Version};
use sha2::Digest;

const MIB: usize = 1024 * 1024;

/// A raw client on moto, for setting up buckets and looking behind the store's back.
async fn client() -> Client {
    let config = moto().sdk_config().await;
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// A fresh bucket and a store on it.
async fn store() -> (Client, String, S3Store) {
    let client = client().await;
    let bucket = unique_name("artifacts");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let store = S3Store::new(&moto().sdk_config().await, &bucket)
        .await
        .unwrap();
    (client, bucket, store)
}

/// `size` bytes that differ from part to part (so a part put in the wrong place shows), the
/// same for the same `seed`.
fn data(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..size)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

fn sha(bytes: &[u8]) -> Sha256 {
    Sha256::from_bytes(sha2::Sha256::digest(bytes).into())
}

fn key(version: Version) -> ArtifactKey {
    ArtifactKey::new(version, Platform::LinuxX64)
}

fn artifact(key: &ArtifactKey, bytes: &[u8]) -> Artifact {
    Artifact {
        platform: key.platform(),
        name: key.asset_name(),
        size: bytes.len() as u64,
        download_url: format!(
            "https://github.com/actions/runner/releases/download/v{}/{}",
            key.version(),
            key.asset_name()
        ),
        sha256: sha(bytes),
    }
}

/// `bytes` as a download would deliver them: in chunks of `chunk` bytes.
fn chunked(bytes: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<io::Result<Bytes>> = bytes
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(chunks))
}

/// The body a store gets in production: the download, checked against the artifact.
fn body(bytes: &[u8], chunk: usize, artifact: &Artifact) -> ByteStream {
    verified(chunked(bytes, chunk), artifact.size, artifact.sha256)
}

async fn get(client: &Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => Some(output.body.collect().await.unwrap().to_vec()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
        Err(e) => panic!("GetObject {key}: {e:?}"),
    }
}

async fn open_uploads(client: &Client, bucket: &str) -> Vec<String> {
    let listed = client
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listed
        .uploads()
        .iter()
        .map(|u| format!("{:?} {:?}", u.key(), u.upload_id()))
        .collect()
}

async fn all_keys(client: &Client, bucket: &str) -> Vec<String> {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn new_refuses_a_missing_bucket_and_names_it() {
    let bucket = unique_name("missing");
    let err = S3Store::new(&moto().sdk_config().await, &bucket)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Aws { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&bucket), "{message}");
    assert!(message.contains("HeadBucket"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
}

#[tokio::test]
async fn a_multipart_upload_keeps_bytes_sha256_and_source() {
    let (client, bucket, store) = store().await;
    let key = key(Version::new(2, 316, 1));
    let bytes = data(20 * MIB, 1);
    let artifact = artifact(&key, &bytes);
    assert!(!store.has(&key, &artifact.sha256).await.unwrap());

    // Chunks of an odd size, so parts are cut in the middle of chunks.
    store
        .put(&key, &artifact, body(&bytes, 777_777, &artifact))
        .await
        .unwrap();

    assert!(store.has(&key, &artifact.sha256).await.unwrap());
    assert!(!store.has(&key, &sha(b"another file")).await.unwrap());
    assert_eq!(get(&client, &bucket, &key.to_string()).await, Some(bytes));

    let head = client
        .head_object()
        .bucket(&bucket)
        .key(key.to_string())
        .send()
        .await
        .unwrap();
    // 20 MiB in parts of 8 MiB: 8 + 8 + 4, which a multipart ETag counts.
    let etag = head.e_tag().unwrap_or_default();
    assert!(etag.trim_matches('"').ends_with("-3"), "{etag}");
    let metadata = head.metadata().unwrap();
    assert_eq!(
        metadata.get("sha256").map(String::as_str),
        Some(artifact.sha256.to_string().as_str())
    );
    assert_eq!(
        metadata.get("source-url"),
        Some(&artifact.download_url),
        "the source URL is kept"
    );
    assert_eq!(open_uploads(&client, &bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_stored_key_is_never_overwritten() {
    let (client, bucket, store) = store().await;
    let key = key(Version::new(2, 317, 0));
    let bytes = data(9 * MIB, 2);
    let artifact = artifact(&key, &bytes);
    store
        .put(&key, &artifact, body(&bytes, MIB, &artifact))
        .await
        .unwrap();
    // What the caller does: `has` says the file is there, so it is not copied again.
    assert!(store.has(&key, &artifact.sha256).await.unwrap());

    // A second put, multipart (the completion is refused) or small (the put is refused),
    // changes nothing and leaves no upload behind.
    for (size, seed) in [(17 * MIB, 3), (1000, 4)] {
        let other = data(size, seed);
        let other_artifact = Artifact {
            sha256: sha(&other),
            size: other.len() as u64,
            ..artifact.clone()
        };
        let err = store
            .put(&key, &other_artifact, body(&other, MIB, &other_artifact))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Occupied { key: k } if *k == key),
            "{size} bytes: {err:?}"
        );
        assert_eq!(
            get(&client, &bucket, &key.to_string()).await.as_deref(),
            Some(&bytes[..])
        );
        assert!(store.has(&key, &artifact.sha256).await.unwrap());
        assert!(!store.has(&key, &other_artifact.sha256).await.unwrap());
        assert_eq!(open_uploads(&client, &bucket).await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn a_sha256_mismatch_leaves_nothing() {
    let (client, bucket, store) = store().await;
    for (version, size) in [
        (Version::new(2, 318, 0), 12 * MIB),
        (Version::new(2, 318, 1), 5000),
    ] {
        let key = key(version);
        let bytes = data(size, 5);
        // The release promises other bytes of the same size: only the hash tells.
        let promised = Artifact {
            sha256: sha(b"what the release lists"),
            ..artifact(&key, &bytes)
        };
        let err = store
            .put(&key, &promised, body(&bytes, MIB, &promised))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
        assert!(message.contains(&key.to_string()), "{message}");
        assert!(message.contains("SHA-256 mismatch"), "{message}");
        assert_eq!(get(&client, &bucket, &key.to_string()).await, None);
        assert!(!store.has(&key, &promised.sha256).await.unwrap());
    }
    assert_eq!(all_keys(&client, &bucket).await, Vec::<String>::new());
    assert_eq!(open_uploads(&client, &bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_failure_mid_stream_aborts_the_upload() {
    let (client, bucket, store) = store().await;
    let key = key(Version::new(2, 319, 0));
    let bytes = data(10 * MIB, 6);
    let artifact = Artifact {
        size: 30 * MIB as u64,
        ..artifact(&key, &bytes)
    };
    // 10 MiB arrive (a multipart upload is open, its first part on the way), then the
    // connection breaks.
    let chunks: Vec<io::Result<Bytes>> = bytes
        .chunks(MIB)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .chain([Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        ))])
        .collect();
    let broken = verified(
        Box::pin(stream::iter(chunks)),
        artifact.size,
        artifact.sha256,
    );
    let err = store.put(&key, &artifact, broken).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, StoreError::Io { cause, .. } if cause.kind() == io::ErrorKind::ConnectionReset),
        "{err:?}"
    );
    assert!(message.contains("connection reset by peer"), "{message}");
    assert_eq!(get(&client, &bucket, &key.to_string()).await, None);
    assert_eq!(open_uploads(&client, &bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_empty_body_is_stored() {
    let (client, bucket, store) = store().await;
    let key = key(Version::new(2, 320, 0));
    let artifact = artifact(&key, b"");
    store
        .put(&key, &artifact, body(b"", 1, &artifact))
        .await
        .unwrap();
    assert_eq!(get(&client, &bucket, &key.to_string()).await, Some(vec![]));
    assert!(store.has(&key, &sha(b"")).await.unwrap());
    assert_eq!(open_uploads(&client, &bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_body_of_exactly_one_part_is_stored() {
    // The stream ends right at a part boundary: no empty last part is uploaded.
    let (client, bucket, store) = store().await;
    let key = key(Version::new(2, 320, 1));
    let bytes = data(8 * MIB, 7);
    let artifact = artifact(&key, &bytes);
    store
        .put(&key, &artifact, body(&bytes, MIB, &artifact))
        .await
        .unwrap();
    assert_eq!(get(&client, &bucket, &key.to_string()).await, Some(bytes));
    assert!(store.has(&key, &artifact.sha256).await.unwrap());
}

#[tokio::test]
async fn presigned_urls_download_the_exact_bytes() {
    let (_client, _bucket, store) = store().await;
    let store = store.with_presign_expiry(std::time::Duration::from_secs(60));
    let key = key(Version::new(2, 321, 0));
    let bytes = data(3 * MIB + 5, 8);
    let artifact = artifact(&key, &bytes);
    store
        .put(&key, &artifact, body(&bytes, 100_000, &artifact))
        .await
        .unwrap();
    let url = store.download_url(&key).await.unwrap();
    assert!(url.starts_with(moto().endpoint()), "{url}");
    assert!(url.contains(&key.to_string()), "{url}");
    assert!(url.contains("X-Amz-Expires=60"), "{url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn copy_to_channel_writes_the_fixed_key() {
    let (client, bucket, store) = store().await;
    let stable: ChannelName = "stable".parse().unwrap();
    let fixed = "channels/stable/actions-runner-linux-x64.tar.gz";
    for (version, seed) in [(Version::new(2, 322, 0), 9), (Version::new(2, 323, 0), 10)] {
        let key = key(version);
        let bytes = data(MIB + 1, seed);
        let artifact = artifact(&key, &bytes);
        store
            .put(&key, &artifact, body(&bytes, 64 * 1024, &artifact))
            .await
            .unwrap();
        // The fixed key follows the approved version: each copy replaces the last.
        store.copy_to_channel(&stable, &key).await.unwrap();
        assert_eq!(get(&client, &bucket, fixed).await, Some(bytes));
        let head = client
            .head_object()
            .bucket(&bucket)
            .key(fixed)
            .send()
            .await
            .unwrap();
        let metadata = head.metadata().unwrap();
        assert_eq!(metadata.get("source-url"), Some(&artifact.download_url));
        assert_eq!(
            metadata.get("sha256").map(String::as_str),
            Some(artifact.sha256.to_string().as_str())
        );
    }

    let windows = ArtifactKey::new(Version::new(2, 323, 0), Platform::WinX64);
    let bytes = data(10, 11);
    let artifact = artifact(&windows, &bytes);
    store
        .put(&windows, &artifact, body(&bytes, 3, &artifact))
        .await
        .unwrap();
    store.copy_to_channel(&stable, &windows).await.unwrap();
    assert_eq!(
        get(
            &client,
            &bucket,
            "channels/stable/actions-runner-win-x64.zip"
        )
        .await,
        Some(bytes)
    );

    // Copying an artifact that is not there fails and names the target.
    let absent = key(Version::new(9, 9, 9));
    let err = store.copy_to_channel(&stable, &absent).await.unwrap_err();
    assert!(err.to_string().contains("CopyObject"), "{err}");
}

/// The child of the memory test runs only the upload, so other tests' buffers do not count.
const MEMORY_CHILD: &str = "RUNNER_MIRROR_S3_MEMORY_CHILD";

/// A figure of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Uploading 200 MiB holds two parts (one uploading, one filling), whatever the asset size:
/// the peak resident set grows by about 16 MiB during the upload and stays far under 64 MiB.
#[cfg(target_os = "linux")]
#[test]
fn a_large_upload_uses_bounded_memory() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "upload_200_mib_and_report_peak_rss",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MEMORY_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let figure = |name: &str| -> u64 {
        stdout
            .lines()
            // The harness may print the test's name on the same line first.
            .find_map(|l| l.split_once(&format!("{name}=")).map(|(_, v)| v))
            .unwrap_or_else(|| panic!("no {name} reported:\n{stdout}\n{stderr}"))
            .trim()
            .parse()
            .unwrap()
    };
    let (before, peak) = (figure("rss-before-kib"), figure("peak-rss-kib"));
    eprintln!(
        "200 MiB upload: resident {} MiB before, peak {} MiB",
        before / 1024,
        peak / 1024
    );
    assert!(
        peak.saturating_sub(before) < 24 * 1024,
        "the upload added {} MiB, more than three parts",
        (peak - before) / 1024
    );
    assert!(peak < 64 * 1024, "peak RSS {} MiB", peak / 1024);
}

/// The child of [`a_large_upload_uses_bounded_memory`]; ignored unless that test runs it.
#[cfg(target_os = "linux")]
#[tokio::test]
#[ignore = "run by a_large_upload_uses_bounded_memory in a process of its own"]
async fn upload_200_mib_and_report_peak_rss() {
    if std::env::var_os(MEMORY_CHILD).is_none() {
        return;
    }
    const SIZE: usize = 200 * MIB;
    const CHUNK: usize = 64 * 1024;
    // One chunk, repeated: the source holds 64 KiB however long the body is.
    let chunk = Bytes::from(data(CHUNK, 12));
    let source = || -> ByteStream {
        let chunk = chunk.clone();
        Box::pin(stream::iter(
            (0..SIZE / CHUNK).map(move |_| Ok::<_, io::Error>(chunk.clone())),
        ))
    };
    let (digest, size) = mirror::verify::sha256_of(source()).await.unwrap();
    let (client, bucket, store) = store().await;
    let key = key(Version::new(2, 330, 0));
    let artifact = Artifact {
        size,
        sha256: digest,
        ..artifact(&key, b"")
    };
    let before = status_kib("VmRSS");
    store
        .put(&key, &artifact, verified(source(), size, digest))
        .await
        .unwrap();
    let peak = status_kib("VmHWM");
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(key.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(SIZE as i64));
    assert!(store.has(&key, &digest).await.unwrap());
    println!("rss-before-kib={before}");
    println!("peak-rss-kib={peak}");
}

//! The embedded store: one directory holds everything, so a laptop needs no AWS account.
//!
//! ```text
//! <root>/config/<channel>.json      channel config (the flat document an operator edits)
//! <root>/state/<channel>.json       channel state (approved version, artifacts, last decision)
//! <root>/log/<channel>.jsonl        decision log, append-only
//! <root>/cache/github-releases.json the GitHub listing with its ETags
//! <root>/runners/v<V>/<asset>       artifacts, the same keys as in S3
//! <root>/channels/<channel>/<asset>  optional copies at fixed names, as in S3
//! ```
//!
//! Every file is written to a temporary name in its directory and renamed into place, so a
//! crash leaves the old file or the new one, never half of one. State commits and log appends
//! hold an exclusive lock on `state/<channel>.lock`, so two processes cannot interleave them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use policy::{Artifact, ConfigDocument, Sha256};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::io::ReaderStream;

use super::{ArtifactStore, StateStore, StoreError};
use crate::github::ReleaseCache;
use crate::names::{ArtifactKey, ChannelName};
use crate::state::{ChannelState, LogEntry};
use crate::verify::{sha256_of, ByteStream};

/// The route under which `runner-mirror serve` streams artifacts of the local store.
pub const ARTIFACT_ROUTE: &str = "/_artifacts/";

#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn config_path(&self, channel: &ChannelName) -> PathBuf {
        self.path(&format!("config/{channel}.json"))
    }

    fn state_path(&self, channel: &ChannelName) -> PathBuf {
        self.path(&format!("state/{channel}.json"))
    }

    fn lock_path(&self, channel: &ChannelName) -> PathBuf {
        self.path(&format!("state/{channel}.lock"))
    }

    fn log_path(&self, channel: &ChannelName) -> PathBuf {
        self.path(&format!("log/{channel}.jsonl"))
    }

    fn cache_path(&self) -> PathBuf {
        self.path("cache/github-releases.json")
    }

    fn artifact_path(&self, key: &ArtifactKey) -> PathBuf {
        self.path(&key.to_string())
    }

    /// Opens an artifact for streaming, with its size.
    pub async fn open(&self, key: &ArtifactKey) -> Result<(ByteStream, u64), StoreError> {
        let path = self.artifact_path(key);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { key: key.clone() })
            }
            Err(e) => return Err(io_error(&path, e)),
        };
        let size = file.metadata().await.map_err(|e| io_error(&path, e))?.len();
        // 256 KiB reads keep syscalls few without holding much memory per download.
        Ok((
            Box::pin(ReaderStream::with_capacity(file, 256 * 1024)),
            size,
        ))
    }

    /// Runs blocking file work (locks, renames) off the async threads.
    async fn blocking<T: Send + 'static>(
        work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        tokio::task::spawn_blocking(work)
            .await
            .expect("store work does not panic")
    }
}

fn io_error(path: &Path, cause: io::Error) -> StoreError {
    StoreError::Io {
        location: path.display().to_string(),
        cause,
    }
}

/// Reads a JSON document; `None` when the file does not exist. A document that does not parse
/// is [`StoreError::Corrupt`] naming the file, the field and the position.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    parse_json(path, &text).map(Some)
}

fn parse_json<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, StoreError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        StoreError::Corrupt {
            location: path.display().to_string(),
            detail: if field == "." {
                e.into_inner().to_string()
            } else {
                format!("field `{field}`: {}", e.into_inner())
            },
        }
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().expect("store paths have a parent");
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io_error(dir, e))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| io_error(path, e))?;
    temp.persist(path).map_err(|e| io_error(path, e.error))?;
    Ok(())
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("store documents serialize");
    bytes.push(b'\n');
    bytes
}

/// Chunks queued for the writer thread: with hyper's chunks of up to 16 KiB, at most a few MiB.
const WRITE_QUEUE_CHUNKS: usize = 256;
/// How much the writer lets the kernel buffer before it flushes, so that the disk works while
/// the download goes on instead of all at the end.
const FLUSH_EVERY: usize = 32 * 1024 * 1024;

/// Writes every chunk it receives to `file`, flushing as it goes, and syncs it at the end.
fn write_durably(
    mut file: fs::File,
    chunks: &mut tokio::sync::mpsc::Receiver<Bytes>,
) -> io::Result<()> {
    let mut unflushed = 0;
    while let Some(chunk) = chunks.blocking_recv() {
        file.write_all(&chunk)?;
        unflushed += chunk.len();
        if unflushed >= FLUSH_EVERY {
            file.sync_data()?;
            unflushed = 0;
        }
    }
    file.sync_all()
}

/// Holds the channel's lock file exclusively until dropped.
fn lock(path: &Path) -> Result<fs::File, StoreError> {
    let dir = path.parent().expect("lock paths have a parent");
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    file.lock().map_err(|e| io_error(path, e))?;
    Ok(file)
}

fn channel_names(dir: &Path, extension: &str) -> Result<Vec<ChannelName>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_error(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path.extension().is_some_and(|e| e == extension) {
            if let Some(name) = path.file_stem().and_then(|s| s.to_str()) {
                // Temporary files and anything an operator left there are not channels.
                if let Ok(channel) = name.parse() {
                    names.push(channel);
                }
            }
        }
    }
    Ok(names)
}

#[async_trait]
impl StateStore for LocalStore {
    async fn channels(&self) -> Result<Vec<ChannelName>, StoreError> {
        let (config, state) = (self.path("config"), self.path("state"));
        Self::blocking(move || {
            let mut names = channel_names(&config, "json")?;
            names.extend(channel_names(&state, "json")?);
            names.sort();
            names.dedup();
            Ok(names)
        })
        .await
    }

    async fn config_document(&self, channel: &ChannelName) -> Result<ConfigDocument, StoreError> {
        let path = self.config_path(channel);
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ConfigDocument::default()),
            Err(e) => return Err(io_error(&path, e)),
        };
        let config_error = |cause| StoreError::Config {
            location: path.display().to_string(),
            cause,
        };
        let value = serde_json::from_str(&text)
            .map_err(|e| config_error(policy::ConfigError::Syntax(e.to_string())))?;
        ConfigDocument::from_value(value).map_err(config_error)
    }

    async fn save_config(
        &self,
        channel: &ChannelName,
        document: &ConfigDocument,
    ) -> Result<(), StoreError> {
        let (path, bytes) = (self.config_path(channel), to_json(document));
        Self::blocking(move || write_atomically(&path, &bytes)).await
    }

    fn config_location(&self, channel: &ChannelName) -> String {
        self.config_path(channel).display().to_string()
    }

    async fn state(&self, channel: &ChannelName) -> Result<ChannelState, StoreError> {
        let path = self.state_path(channel);
        Self::blocking(move || Ok(read_json(&path)?.unwrap_or_default())).await
    }

    async fn commit(&self, channel: &ChannelName, state: &ChannelState) -> Result<(), StoreError> {
        let (lock_path, path) = (self.lock_path(channel), self.state_path(channel));
        let (channel, state) = (channel.clone(), state.clone());
        Self::blocking(move || {
            let _held = lock(&lock_path)?;
            let current = read_json::<ChannelState>(&path)?.map_or(0, |s| s.revision);
            if current + 1 != state.revision {
                return Err(StoreError::Conflict {
                    channel,
                    expected: state.revision.saturating_sub(1),
                    found: current,
                });
            }
            write_atomically(&path, &to_json(&state))
        })
        .await
    }

    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError> {
        let lock_path = self.lock_path(&entry.channel);
        let path = self.log_path(&entry.channel);
        let mut line = serde_json::to_vec(entry).expect("log entries serialize");
        line.push(b'\n');
        Self::blocking(move || {
            let _held = lock(&lock_path)?;
            let dir = path.parent().expect("log paths have a parent");
            fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
            let mut file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io_error(&path, e))?;
            file.write_all(&line)
                .and_then(|()| file.sync_data())
                .map_err(|e| io_error(&path, e))
        })
        .await
    }

    async fn log(&self, channel: &ChannelName, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let path = self.log_path(channel);
        Self::blocking(move || {
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
                Err(e) => return Err(io_error(&path, e)),
            };
            let mut entries = text
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty())
                .map(|(i, line)| {
                    parse_json(&path, line).map_err(|e| match e {
                        StoreError::Corrupt { location, detail } => StoreError::Corrupt {
                            location: format!("{location} line {}", i + 1),
                            detail,
                        },
                        other => other,
                    })
                })
                .collect::<Result<Vec<LogEntry>, _>>()?;
            entries.reverse();
            entries.truncate(limit);
            Ok(entries)
        })
        .await
    }

    async fn release_cache(&self) -> Result<Option<ReleaseCache>, StoreError> {
        let path = self.cache_path();
        Self::blocking(move || read_json(&path)).await
    }

    async fn save_release_cache(&self, cache: &ReleaseCache) -> Result<(), StoreError> {
        let (path, bytes) = (
            self.cache_path(),
            serde_json::to_vec(cache).expect("caches serialize"),
        );
        Self::blocking(move || write_atomically(&path, &bytes)).await
    }
}

#[async_trait]
impl ArtifactStore for LocalStore {
    async fn has(&self, key: &ArtifactKey, sha256: &Sha256) -> Result<bool, StoreError> {
        let stream = match self.open(key).await {
            Ok((stream, _)) => stream,
            Err(StoreError::Missing { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        // Hashing again catches a file that was damaged or replaced since it was verified.
        let (actual, _) = sha256_of(stream)
            .await
            .map_err(|e| io_error(&self.artifact_path(key), e))?;
        Ok(actual == *sha256)
    }

    async fn put(
        &self,
        key: &ArtifactKey,
        _artifact: &Artifact,
        body: ByteStream,
    ) -> Result<(), StoreError> {
        let path = self.artifact_path(key);
        let dir = path
            .parent()
            .expect("artifact paths have a parent")
            .to_owned();
        let temp = Self::blocking({
            let dir = dir.clone();
            move || {
                fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
                tempfile::Builder::new()
                    .prefix(".tmp")
                    .tempfile_in(&dir)
                    .map_err(|e| io_error(&dir, e))
            }
        })
        .await?;
        let (file, temp_path) = temp.into_parts();
        let location = key.to_string();
        let failed = |cause: io::Error| StoreError::Io {
            location: location.clone(),
            cause,
        };
        // A writer thread takes the chunks, so the download and its hashing go on while the
        // disk writes; the channel bounds what is in flight.
        let (chunks, mut received) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE_CHUNKS);
        let writer = tokio::task::spawn_blocking(move || write_durably(file, &mut received));
        let mut body = body;
        let mut streamed = Ok(());
        while let Some(chunk) = body.next().await {
            match chunk {
                // A closed channel means the writer failed; its error is reported below.
                Ok(chunk) => {
                    if chunks.send(chunk).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    streamed = Err(e);
                    break;
                }
            }
        }
        drop(chunks);
        let written = writer.await.expect("the writer does not panic");
        // On any error `temp_path` is dropped here, which deletes the partial file.
        streamed.and(written).map_err(failed)?;
        let key = key.clone();
        Self::blocking(move || match temp_path.persist_noclobber(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                Err(StoreError::Occupied { key })
            }
            Err(e) => Err(io_error(&path, e.error)),
        })
        .await
    }

    async fn copy_to_channel(
        &self,
        channel: &ChannelName,
        key: &ArtifactKey,
    ) -> Result<(), StoreError> {
        let (source, target) = (
            self.artifact_path(key),
            self.path(&key.channel_copy(channel)),
        );
        Self::blocking(move || {
            let dir = target.parent().expect("channel copies have a parent");
            fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
            let temp = tempfile::Builder::new()
                .prefix(".tmp")
                .tempfile_in(dir)
                .map_err(|e| io_error(dir, e))?;
            fs::copy(&source, temp.path()).map_err(|e| io_error(&source, e))?;
            temp.persist(&target)
                .map_err(|e| io_error(&target, e.error))?;
            Ok(())
        })
        .await
    }

    async fn download_url(&self, key: &ArtifactKey) -> Result<String, StoreError> {
        // A relative redirect: it works whatever host name or proxy the runner came through.
        Ok(format!("{ARTIFACT_ROUTE}{key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use policy::{Platform, Version};

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        (dir, store)
    }

    fn stable() -> ChannelName {
        "stable".parse().unwrap()
    }

    #[tokio::test]
    async fn empty_store_has_defaults() {
        let (_dir, store) = store();
        assert_eq!(store.channels().await.unwrap(), []);
        assert_eq!(
            store.config(&stable()).await.unwrap(),
            policy::ChannelConfig::default()
        );
        assert_eq!(
            store.state(&stable()).await.unwrap(),
            ChannelState::default()
        );
        assert!(store.release_cache().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn commits_need_the_next_revision() {
        let (_dir, store) = store();
        let first = ChannelState {
            revision: 1,
            ..Default::default()
        };
        store.commit(&stable(), &first).await.unwrap();
        assert_eq!(store.state(&stable()).await.unwrap(), first);
        let stale = store.commit(&stable(), &first).await.unwrap_err();
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
        assert_eq!(store.channels().await.unwrap(), [stable()]);
    }

    #[tokio::test]
    async fn corrupt_files_name_the_file_and_field() {
        let (dir, store) = store();
        fs::create_dir_all(dir.path().join("state")).unwrap();
        fs::write(
            dir.path().join("state/stable.json"),
            r#"{"revision": "two", "approved": null, "last_decision": null, "last_failure": null}"#,
        )
        .unwrap();
        let err = store.state(&stable()).await.unwrap_err().to_string();
        assert!(
            err.contains("state/stable.json is corrupt: field `revision`"),
            "{err}"
        );

        fs::create_dir_all(dir.path().join("config")).unwrap();
        fs::write(
            dir.path().join("config/stable.json"),
            r#"{"soak_days": -1}"#,
        )
        .unwrap();
        let err = store.config(&stable()).await.unwrap_err().to_string();
        assert!(
            err.contains("config/stable.json: parameters: soak must not be negative"),
            "{err}"
        );
    }

    /// What the release says about a file; the local store keeps none of it.
    fn artifact(key: &ArtifactKey) -> Artifact {
        Artifact {
            platform: key.platform(),
            name: key.asset_name(),
            size: 12,
            download_url: "https://example.invalid/runner".into(),
            sha256: Sha256::from_bytes([0; 32]),
        }
    }

    fn body(parts: Vec<io::Result<&'static [u8]>>) -> ByteStream {
        Box::pin(futures_util::stream::iter(
            parts.into_iter().map(|p| p.map(Bytes::from_static)),
        ))
    }

    #[tokio::test]
    async fn artifacts_appear_only_after_a_clean_stream_and_are_never_overwritten() {
        let (dir, store) = store();
        let key = ArtifactKey::new(Version::new(2, 1, 0), Platform::LinuxX64);
        let broken = body(vec![Ok(b"half"), Err(io::Error::other("connection reset"))]);
        let err = store
            .put(&key, &artifact(&key), broken)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("connection reset"), "{err}");
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("runners/v2.1.0"))
            .unwrap()
            .collect();
        assert!(
            leftovers.is_empty(),
            "no partial file is left: {leftovers:?}"
        );

        store
            .put(
                &key,
                &artifact(&key),
                body(vec![Ok(b"runner"), Ok(b" bytes")]),
            )
            .await
            .unwrap();
        let sha: Sha256 = "2d0e4c2b8e2c1c8c0c6f5ad8a8f6b5a3a1b0f0d0e0c0b0a09080706050403020"
            .parse()
            .unwrap();
        assert!(!store.has(&key, &sha).await.unwrap());
        let (stream, size) = store.open(&key).await.unwrap();
        assert_eq!(size, 12);
        let (real, _) = sha256_of(stream).await.unwrap();
        assert!(store.has(&key, &real).await.unwrap());

        let again = store
            .put(&key, &artifact(&key), body(vec![Ok(b"other")]))
            .await
            .unwrap_err();
        assert!(matches!(again, StoreError::Occupied { .. }), "{again}");
        assert_eq!(
            store.download_url(&key).await.unwrap(),
            format!("/_artifacts/{key}")
        );
    }
}

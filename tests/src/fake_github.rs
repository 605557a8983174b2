//! A fake GitHub for the end-to-end tests and the benchmark: an HTTP server on a loopback port
//! that speaks the shape of the real REST API for the releases of one repository and serves
//! generated runner packages, with switches that reproduce the faults the mirror must survive.
//!
//! What it owns:
//! - the release listing, `GET /repos/{owner}/{repo}/releases?per_page=N&page=P`, in the real
//!   field set (see `shared/data/github-release-v2.296.2.json`), newest first, with GitHub's
//!   `Link` pagination, a strong `ETag` answered by `304 Not Modified`, and the rate-limit
//!   headers;
//! - the assets of every release as GitHub ships them (which platforms from which version, the
//!   package variants of 2.286.0 to 2.311.0, SHA-256 markers in the body from 2.277.0, the
//!   `digest` field from June 2025, the placeholder marker of win-arm64 in 2.297.0 and 2.298.0);
//! - their content: small, deterministic, real gzip'd tarballs with a `config.sh` that runs, or
//!   on request a large pseudo-random body that is streamed and never held in memory;
//! - downloads the way github.com answers them: `302 Found` from the `browser_download_url` to
//!   a second route that serves the bytes;
//! - the faults: wrong or missing checksums, truncated downloads, 500s, rate limits (403 and
//!   429), small pages, and releases published while the server runs; and a log of every request.
//!
//! [`FakeGithub::start`] is synchronous, because the end-to-end tests are plain `#[test]`
//! functions that run the `runner-mirror` binary: the server runs on its own thread and tokio
//! runtime, and dropping the handle stops it. It only ever binds a loopback address.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, TimeZone as _, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use futures_util::{stream, Stream, StreamExt as _};
use policy::{Platform, Version};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::sync::oneshot;

/// The repository the fake serves unless told otherwise.
pub const DEFAULT_REPO: &str = "actions/runner";

/// GitHub's limit for authenticated requests; the fake counts down from it but never enforces
/// it (only [`FakeGithub::rate_limit`] does), so long benchmarks are not throttled by accident.
const RATE_LIMIT: u64 = 5000;
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;
/// Chunk size of streamed large assets. A multiple of the generator's 8-byte word, so the bytes
/// do not depend on where a body is cut.
const CHUNK: usize = 64 * 1024;
/// The modification time of every file in the generated tarballs (2020-01-01), so that their
/// bytes, and hence their SHA-256, never change.
const TAR_MTIME: u64 = 1_577_836_800;

const RATE_LIMIT_DOCS: &str =
    "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting";
const SECONDARY_RATE_LIMIT_DOCS: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
const LIST_RELEASES_DOCS: &str = "https://docs.github.com/rest/releases/releases#list-releases";

/// One release of the fake repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeRelease {
    /// The bare version, e.g. `2.316.1` (the tag is `v2.316.1`).
    pub version: String,
    /// When it was published; for a draft, when it was created (drafts list
    /// `"published_at": null`).
    pub published_at: DateTime<Utc>,
    pub prerelease: bool,
    pub draft: bool,
}

impl FakeRelease {
    /// A published, stable release.
    pub fn new(version: &str, published_at: DateTime<Utc>) -> Self {
        FakeRelease {
            version: version.trim_start_matches('v').to_owned(),
            published_at,
            prerelease: false,
            draft: false,
        }
    }
}

impl From<&policy::Release> for FakeRelease {
    fn from(release: &policy::Release) -> Self {
        FakeRelease {
            version: release.version.to_string(),
            published_at: release.published_at,
            prerelease: release.prerelease,
            draft: false,
        }
    }
}

/// A wrong checksum for one asset, in one of the ways a release can be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumFault {
    /// The digest (when the release has digests) and the body marker both claim the SHA-256 of
    /// different bytes: a tampered or mismatched file. The marker is written even for releases
    /// older than 2.277.0, which otherwise have none, so the fault always shows.
    WrongSha256,
    /// The marker holds placeholder text instead of a hash and the digest is null: nothing to
    /// verify against (what GitHub shipped for win-arm64 in 2.297.0).
    Placeholder,
    /// The digest is correct but the marker is a different valid hash. A release without
    /// digests gets the correct one, so the two always disagree.
    DigestMarkerDisagree,
}

/// One request the fake received, as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path_and_query: String,
    /// Header names in lower case; repeated headers keep their order.
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A platform argument: a [`Platform`] or its name (`"linux-x64"`). An unknown name is a bug in
/// the test, so it panics.
pub trait AsPlatform {
    fn as_platform(&self) -> Platform;
}

impl AsPlatform for Platform {
    fn as_platform(&self) -> Platform {
        *self
    }
}

impl AsPlatform for &str {
    fn as_platform(&self) -> Platform {
        self.parse().unwrap_or_else(|e| panic!("{e}"))
    }
}

impl AsPlatform for String {
    fn as_platform(&self) -> Platform {
        self.as_str().as_platform()
    }
}

/// The platforms a release ships a full runner package for, in GitHub's history: linux-x64,
/// osx-x64 and win-x64 always, linux-arm64 and linux-arm from 2.161.0, osx-arm64 from 2.292.0,
/// win-arm64 from 2.297.0.
pub fn shipped_platforms(version: &Version) -> Vec<Platform> {
    let since = |minor: u64| *version >= Version::new(2, minor, 0);
    Platform::ALL
        .into_iter()
        .filter(|p| match p {
            Platform::LinuxX64 | Platform::OsxX64 | Platform::WinX64 => true,
            Platform::LinuxArm64 | Platform::LinuxArm => since(161),
            Platform::OsxArm64 => since(292),
            Platform::WinArm64 => since(297),
        })
        .collect()
}

/// Builds a [`FakeGithub`] with options: another repository, another loopback address, a
/// page-size cap from the start.
#[derive(Clone, Debug)]
pub struct FakeGithubBuilder {
    releases: Vec<FakeRelease>,
    repo: String,
    listen: SocketAddr,
    max_per_page: Option<usize>,
}

impl FakeGithubBuilder {
    /// The `owner/name` the API answers for (default `actions/runner`); others get 404.
    pub fn repo(mut self, owner_repo: &str) -> Self {
        self.repo = owner_repo.to_owned();
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port). Must be loopback.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// As [`FakeGithub::set_max_per_page`], from the first request on.
    pub fn max_per_page(mut self, n: usize) -> Self {
        self.max_per_page = Some(n.max(1));
        self
    }

    /// Generates the assets, binds, and serves on a thread of its own; returns once the socket
    /// is listening. Fails on a non-loopback address, a bind error, or a bad release.
    pub fn start(self) -> io::Result<FakeGithub> {
        if !self.listen.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the fake GitHub listens on loopback addresses only, not {}",
                    self.listen
                ),
            ));
        }
        let well_formed = self.repo.split_once('/').is_some_and(|(owner, name)| {
            !owner.is_empty() && !name.is_empty() && !name.contains('/')
        });
        if !well_formed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("repository {:?} is not owner/name", self.repo),
            ));
        }
        let entries = self
            .releases
            .into_iter()
            .map(Entry::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;

        let listener = StdTcpListener::bind(self.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let mut state = ServerState {
            releases: Vec::new(),
            faults: HashMap::new(),
            large: HashMap::new(),
            truncate: false,
            download_rate: None,
            downloads_in_flight: 0,
            peak_downloads_in_flight: 0,
            fail_api: 0,
            limit: None,
            max_per_page: self.max_per_page,
            api_calls: 0,
            requests: Vec::new(),
        };
        for entry in entries {
            state.insert(entry);
        }
        let shared = Arc::new(Shared {
            base_url,
            repo: self.repo,
            window_reset: Utc::now().timestamp() + 3600,
            state: Mutex::new(state),
        });

        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, is_ready) = std::sync::mpsc::channel::<io::Result<()>>();
        let thread = thread::Builder::new()
            .name(format!("fake-github {addr}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("fake-github-worker")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime drops every connection task: a stalled client cannot
                // keep the test that owned the fake from finishing.
                drop(runtime);
            })?;
        is_ready
            .recv()
            .map_err(|_| io::Error::other("the fake GitHub thread died while starting"))??;
        Ok(FakeGithub {
            shared,
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A running fake GitHub. Switches act on the next request; dropping it stops the server.
pub struct FakeGithub {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl fmt::Debug for FakeGithub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGithub")
            .field("api_url", &self.shared.base_url)
            .field("repo", &self.shared.repo)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeGithub {
    /// The 144 releases of the project's history fixture
    /// (`tests/fixtures/actions-runner-releases.json`), none a draft. Compiled in, so the
    /// binary needs no checkout.
    pub fn history() -> Vec<FakeRelease> {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/actions-runner-releases.json"
        ));
        let list = policy::parse_releases(text).expect("the history fixture parses");
        list.releases().iter().map(FakeRelease::from).collect()
    }

    pub fn builder(releases: Vec<FakeRelease>) -> FakeGithubBuilder {
        FakeGithubBuilder {
            releases,
            repo: DEFAULT_REPO.to_owned(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            max_per_page: None,
        }
    }

    /// Serves `releases` of `actions/runner` on a free loopback port. Panics when it cannot
    /// (a test cannot go on without it).
    pub fn start(releases: Vec<FakeRelease>) -> FakeGithub {
        Self::builder(releases)
            .start()
            .expect("the fake GitHub starts")
    }

    /// As [`FakeGithub::start`], for another repository (`owner/name`).
    pub fn start_with_repo(owner_repo: &str, releases: Vec<FakeRelease>) -> FakeGithub {
        Self::builder(releases)
            .repo(owner_repo)
            .start()
            .expect("the fake GitHub starts")
    }

    /// The API base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn api_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The repository served, `owner/name`.
    pub fn repo(&self) -> &str {
        &self.shared.repo
    }

    /// The full package's asset name, e.g. `actions-runner-linux-x64-2.316.1.tar.gz`.
    pub fn asset_name(&self, version: &str, platform: impl AsPlatform) -> String {
        platform.as_platform().asset_name(&parse_version(version))
    }

    /// The asset's `browser_download_url`.
    pub fn download_url(&self, version: &str, platform: impl AsPlatform) -> String {
        let version = parse_version(version);
        let name = platform.as_platform().asset_name(&version);
        self.shared.download_url(&version, &name)
    }

    /// The SHA-256 of the bytes the fake serves for the asset (whatever the listing claims).
    pub fn sha256_hex(&self, version: &str, platform: impl AsPlatform) -> String {
        let (version, platform) = (parse_version(version), platform.as_platform());
        let state = self.shared.lock();
        hex::encode(state.package(&version, platform).1.sha256)
    }

    /// The bytes the fake serves for the asset. Panics for a large asset, which is never held
    /// in memory.
    pub fn asset_bytes(&self, version: &str, platform: impl AsPlatform) -> Vec<u8> {
        let (version, platform) = (parse_version(version), platform.as_platform());
        let content = self
            .shared
            .lock()
            .package(&version, platform)
            .1
            .content
            .clone();
        match content {
            Content::Small(bytes) => bytes.to_vec(),
            Content::Large { size, .. } => {
                panic!("{platform} of {version} is a large asset ({size} bytes): stream it instead")
            }
        }
    }

    /// Makes the listing claim a wrong checksum for one asset (see [`ChecksumFault`]).
    pub fn set_checksum_fault(
        &self,
        version: &str,
        platform: impl AsPlatform,
        fault: ChecksumFault,
    ) {
        let (version, platform) = (parse_version(version), platform.as_platform());
        let mut state = self.shared.lock();
        state.package(&version, platform); // panics on an asset that does not exist
        state.faults.insert((version, platform), fault);
    }

    pub fn clear_checksum_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// While on, downloads send the full `Content-Length` but only about half the bytes, then
    /// abort the connection.
    pub fn truncate_downloads(&self, on: bool) {
        self.shared.lock().truncate = on;
    }

    /// The next `n` API requests answer `500` (downloads are not affected).
    pub fn fail_api(&self, n: u32) {
        self.shared.lock().fail_api = n;
    }

    /// Until cleared, API requests answer GitHub's primary rate limit: `403`, remaining 0, and
    /// `x-ratelimit-reset` = `reset_at`. (It does not lift by itself at `reset_at`, so a test
    /// decides when the limit ends.)
    pub fn rate_limit(&self, reset_at: DateTime<Utc>) {
        self.shared.lock().limit = Some(Limit::Primary { reset_at });
    }

    /// Until cleared, API requests answer GitHub's secondary rate limit: `429` with
    /// `retry-after: retry_after_secs`.
    pub fn rate_limit_429(&self, retry_after_secs: u64) {
        self.shared.lock().limit = Some(Limit::Secondary { retry_after_secs });
    }

    pub fn clear_rate_limit(&self) {
        self.shared.lock().limit = None;
    }

    /// Paces every download to `bytes_per_second` (per connection, as a network link would),
    /// or lifts the pace with `None` (the default: as fast as loopback and the CPU allow).
    pub fn set_download_rate(&self, bytes_per_second: Option<u64>) {
        self.shared.lock().download_rate = bytes_per_second.map(|r| r.max(1));
    }

    /// Caps the page size below GitHub's 100, to force pagination with few releases.
    pub fn set_max_per_page(&self, n: usize) {
        self.shared.lock().max_per_page = Some(n.max(1));
    }

    /// Adds a release (or replaces the one with the same version) while the server runs; its
    /// assets and checksums are generated like the others. Panics on a version that does not
    /// parse.
    pub fn publish(&self, release: FakeRelease) {
        // Generated before taking the lock: requests keep being answered meanwhile.
        let entry = Entry::new(release).unwrap_or_else(|e| panic!("{e}"));
        self.shared.lock().insert(entry);
    }

    /// Makes an asset a large pseudo-random body of exactly `bytes` bytes. It is streamed in
    /// chunks; its SHA-256 is computed here, once, by running the generator (so the listing's
    /// digest and marker are right). Panics on an asset that does not exist.
    pub fn set_large_asset(&self, version: &str, platform: impl AsPlatform, bytes: u64) {
        let (version, platform) = (parse_version(version), platform.as_platform());
        let name = {
            let state = self.shared.lock();
            state.package(&version, platform).0.name.clone()
        };
        let seed = u64::from_le_bytes(
            sha256(name.as_bytes())[..8]
                .try_into()
                .expect("8 bytes of a hash"),
        );
        let mut hasher = Sha256::new();
        for chunk in noise(seed, bytes) {
            hasher.update(&chunk);
        }
        let content = Content::Large {
            size: bytes,
            seed,
            sha256: hasher.finalize().into(),
        };
        self.shared
            .lock()
            .large
            .insert((version, platform), content);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        let mut state = self.shared.lock();
        state.requests.clear();
        state.peak_downloads_in_flight = state.downloads_in_flight;
    }

    /// The most downloads that were being sent at the same time since the start (or since
    /// [`FakeGithub::clear_requests`]).
    pub fn peak_downloads_in_flight(&self) -> usize {
        self.shared.lock().peak_downloads_in_flight
    }
}

fn parse_version(version: &str) -> Version {
    version.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// What the server shares between its handlers and the handle.
struct Shared {
    base_url: String,
    repo: String,
    /// When the (never enforced) hourly rate-limit window ends, for `x-ratelimit-reset`.
    window_reset: i64,
    state: Mutex<ServerState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ServerState> {
        // A test that panicked while holding the lock must not turn every later request into a
        // second panic; the state is still consistent (every change is a single assignment).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn download_url(&self, version: &Version, name: &str) -> String {
        format!(
            "{}/{}/releases/download/{}/{name}",
            self.base_url,
            self.repo,
            version.tag()
        )
    }
}

/// The releases, the switches and the request log.
struct ServerState {
    /// Newest first, as the API lists them.
    releases: Vec<Arc<Entry>>,
    faults: HashMap<(Version, Platform), ChecksumFault>,
    /// Large bodies that replace a full package's generated content.
    large: HashMap<(Version, Platform), Content>,
    truncate: bool,
    download_rate: Option<u64>,
    downloads_in_flight: usize,
    peak_downloads_in_flight: usize,
    fail_api: u32,
    limit: Option<Limit>,
    max_per_page: Option<usize>,
    api_calls: u64,
    requests: Vec<SeenRequest>,
}

#[derive(Clone, Copy, Debug)]
enum Limit {
    Primary { reset_at: DateTime<Utc> },
    Secondary { retry_after_secs: u64 },
}

impl ServerState {
    fn insert(&mut self, entry: Entry) {
        self.releases.retain(|e| e.version != entry.version);
        // Newest first by publication; the version breaks ties so the order never depends on
        // insertion order.
        let key = |e: &Entry| (e.release.published_at, e.version.clone());
        let at = self.releases.partition_point(|e| key(e) > key(&entry));
        self.releases.insert(at, Arc::new(entry));
    }

    fn entry(&self, version: &Version) -> Option<&Arc<Entry>> {
        self.releases.iter().find(|e| e.version == *version)
    }

    /// A full package and its current content (the large body if one was set). Panics when the
    /// release or the platform does not exist: the helpers calling it are for tests.
    fn package(&self, version: &Version, platform: Platform) -> (&GeneratedAsset, Served<'_>) {
        let entry = self
            .entry(version)
            .unwrap_or_else(|| panic!("the fake GitHub has no release {version}"));
        let asset = entry
            .assets
            .iter()
            .find(|a| a.platform == platform && a.variant == Variant::Full)
            .unwrap_or_else(|| panic!("release {version} ships no {platform} package"));
        (asset, self.served(version, asset))
    }

    fn served<'a>(&'a self, version: &Version, asset: &'a GeneratedAsset) -> Served<'a> {
        let large = (asset.variant == Variant::Full)
            .then(|| self.large.get(&(version.clone(), asset.platform)))
            .flatten();
        match large {
            Some(content @ Content::Large { sha256, .. }) => Served {
                content,
                sha256: *sha256,
            },
            _ => Served {
                content: &asset.content,
                sha256: asset.sha256,
            },
        }
    }

    /// Counts an API call and decides the faults that come before any routing: a 500 while
    /// `fail_api` lasts, then a rate limit.
    fn api_gate(&mut self, shared: &Shared) -> Result<RateHeaders, Refusal> {
        self.api_calls += 1;
        let rate = RateHeaders {
            remaining: RATE_LIMIT.saturating_sub(self.api_calls),
            used: self.api_calls.min(RATE_LIMIT),
            reset: shared.window_reset,
        };
        if self.fail_api > 0 {
            self.fail_api -= 1;
            return Err(Refusal::ServerError(rate));
        }
        match self.limit {
            None => Ok(rate),
            Some(Limit::Primary { reset_at }) => Err(Refusal::RateLimited { reset_at }),
            Some(Limit::Secondary { retry_after_secs }) => Err(Refusal::Throttled {
                rate,
                retry_after_secs,
            }),
        }
    }

    /// The release object of the API, with the checksums as the current faults make them.
    fn release_json(&self, shared: &Shared, entry: &Entry) -> Value {
        let version = &entry.version;
        let tag = version.tag();
        let api = format!("{}/repos/{}", shared.base_url, shared.repo);
        let created_at = rfc3339(&entry.release.published_at);
        let has_digests = entry.release.published_at >= digests_since();
        let has_markers = *version >= Version::new(2, 277, 0);

        let mut assets = Vec::with_capacity(entry.assets.len());
        let mut markers: Vec<(&GeneratedAsset, String)> = Vec::new();
        for asset in &entry.assets {
            let served = self.served(version, asset);
            let true_sha = hex::encode(served.sha256);
            let fault = (asset.variant == Variant::Full)
                .then(|| self.faults.get(&(version.clone(), asset.platform)))
                .flatten();
            let baseline_marker = asset.marker_label().filter(|_| has_markers).map(|_| {
                if asset.variant == Variant::Full
                    && asset.platform == Platform::WinArm64
                    && [Version::new(2, 297, 0), Version::new(2, 298, 0)].contains(version)
                {
                    placeholder(asset.platform)
                } else {
                    true_sha.clone()
                }
            });
            // A hash of bytes that are not the asset: what a tampered listing would claim.
            let other_sha = || hex::encode(sha256(format!("not {}", asset.name).as_bytes()));
            let (digest, marker) = match fault {
                None => (has_digests.then(|| true_sha.clone()), baseline_marker),
                Some(ChecksumFault::WrongSha256) => {
                    (has_digests.then(other_sha), Some(other_sha()))
                }
                Some(ChecksumFault::Placeholder) => (None, Some(placeholder(asset.platform))),
                Some(ChecksumFault::DigestMarkerDisagree) => {
                    (Some(true_sha.clone()), Some(other_sha()))
                }
            };
            if let Some(marker) = marker {
                markers.push((asset, marker));
            }
            let uploaded = rfc3339(&(entry.release.published_at + chrono::TimeDelta::seconds(35)));
            assets.push(json!({
                "url": format!("{api}/releases/assets/{}", asset.id),
                "id": asset.id,
                "node_id": format!("RA_fake{}", asset.id),
                "name": asset.name,
                "label": "",
                "uploader": bot(),
                "content_type": "application/octet-stream",
                "state": "uploaded",
                "size": served.content.size(),
                "digest": digest.map(|hex| format!("sha256:{hex}")),
                "download_count": 0,
                "created_at": uploaded,
                "updated_at": uploaded,
                "browser_download_url": shared.download_url(version, &asset.name),
            }));
        }

        json!({
            "url": format!("{api}/releases/{}", entry.id),
            "assets_url": format!("{api}/releases/{}/assets", entry.id),
            "upload_url": format!("{api}/releases/{}/assets{{?name,label}}", entry.id),
            "html_url": format!("{}/{}/releases/tag/{tag}", shared.base_url, shared.repo),
            "id": entry.id,
            "author": bot(),
            "node_id": format!("RE_fake{}", entry.id),
            "tag_name": tag,
            "target_commitish": "main",
            "name": tag,
            "draft": entry.release.draft,
            "prerelease": entry.release.prerelease,
            "created_at": created_at,
            "published_at": (!entry.release.draft).then_some(&created_at),
            "assets": assets,
            "tarball_url": format!("{api}/tarball/{tag}"),
            "zipball_url": format!("{api}/zipball/{tag}"),
            "body": release_body(shared, entry, &markers),
        })
    }
}

/// The current content of an asset, and the SHA-256 of that content.
struct Served<'a> {
    content: &'a Content,
    sha256: [u8; 32],
}

/// The day from which the fake's assets carry a `digest` (GitHub added the field in June 2025).
fn digests_since() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The unfilled template text of a marker, like GitHub's `<WIN_ARM64_SHA>`.
fn placeholder(platform: Platform) -> String {
    format!(
        "<{}_SHA>",
        platform.as_str().replace('-', "_").to_uppercase()
    )
}

fn bot() -> Value {
    json!({
        "login": "github-actions[bot]",
        "id": 41898282,
        "node_id": "MDM6Qm90NDE4OTgyODI=",
        "type": "Bot",
        "site_admin": false,
    })
}

/// Release notes in the layout of the real ones: notes, an install snippet, then the checksum
/// section with one marker per package (full packages first, then each variant group).
fn release_body(shared: &Shared, entry: &Entry, markers: &[(&GeneratedAsset, String)]) -> String {
    let version = &entry.version;
    let linux = Platform::LinuxX64.asset_name(version);
    let mut body = format!(
        "## What's Changed\n\
         - Runner {version}, served by the fake GitHub of runner-mirror's end-to-end tests.\n\n\
         ## Linux x64\n\n\
         ``` bash\n\
         # Create a folder\n\
         mkdir actions-runner && cd actions-runner\n\
         # Download the latest runner package\n\
         curl -O -L {url}\n\
         # Extract the installer\n\
         tar xzf ./{linux}\n\
         ```\n",
        url = shared.download_url(version, &linux),
    );
    if markers.is_empty() {
        return body;
    }
    body.push_str(
        "\n## SHA-256 Checksums\n\n\
         The SHA-256 checksums for the packages included in this build are shown below:\n",
    );
    for variant in Variant::PACKAGES {
        let group: Vec<_> = markers
            .iter()
            .filter(|(a, _)| a.variant == variant)
            .collect();
        if group.is_empty() {
            continue;
        }
        body.push('\n');
        for (asset, value) in group {
            let label = asset.marker_label().expect("packages have markers");
            body.push_str(&format!(
                "- {} <!-- BEGIN SHA {label} -->{value}<!-- END SHA {label} -->\n",
                asset.name
            ));
        }
    }
    body
}

#[derive(Clone, Copy, Debug)]
struct RateHeaders {
    remaining: u64,
    used: u64,
    reset: i64,
}

impl RateHeaders {
    fn apply(&self, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, value: HeaderValue| {
            headers.insert(HeaderName::from_static(name), value);
        };
        set("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT));
        set("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        set("x-ratelimit-reset", HeaderValue::from(self.reset));
        set("x-ratelimit-used", HeaderValue::from(self.used));
        set("x-ratelimit-resource", HeaderValue::from_static("core"));
        set(
            "x-github-api-version-selected",
            HeaderValue::from_static("2022-11-28"),
        );
    }
}

/// An API call answered by a fault instead of its route.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    ServerError(RateHeaders),
    /// GitHub's primary rate limit: 403 and nothing left until `reset_at`.
    RateLimited {
        reset_at: DateTime<Utc>,
    },
    /// GitHub's secondary rate limit: 429 with `retry-after`.
    Throttled {
        rate: RateHeaders,
        retry_after_secs: u64,
    },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::ServerError(rate) => api_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"message": "Server Error"}),
                &rate,
            ),
            Refusal::RateLimited { reset_at } => api_json(
                StatusCode::FORBIDDEN,
                &json!({
                    "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
                    "documentation_url": RATE_LIMIT_DOCS,
                }),
                &RateHeaders {
                    remaining: 0,
                    used: RATE_LIMIT,
                    reset: reset_at.timestamp(),
                },
            ),
            Refusal::Throttled {
                rate,
                retry_after_secs,
            } => {
                let mut response = api_json(
                    StatusCode::TOO_MANY_REQUESTS,
                    &json!({
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                        "documentation_url": SECONDARY_RATE_LIMIT_DOCS,
                    }),
                    &rate,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
        }
    }
}

fn api_json(status: StatusCode, body: &Value, rate: &RateHeaders) -> Response {
    api_response(status, Body::from(body.to_string()), rate)
}

fn api_response(status: StatusCode, body: Body, rate: &RateHeaders) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    rate.apply(headers);
    response
}

fn api_not_found(rate: &RateHeaders) -> Response {
    api_json(
        StatusCode::NOT_FOUND,
        &json!({"message": "Not Found", "documentation_url": LIST_RELEASES_DOCS, "status": "404"}),
        rate,
    )
}

fn plain_not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/repos/{owner}/{repo}/releases", get(list_releases))
        .route(
            "/{owner}/{repo}/releases/download/{tag}/{name}",
            get(download_redirect),
        )
        .route("/objects/{tag}/{name}", get(object))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let seen = SeenRequest {
        method: request.method().to_string(),
        path_and_query: request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path().to_owned(), |p| p.to_string()),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    shared.lock().requests.push(seen);
    next.run(request).await
}

/// `GET /repos/{owner}/{repo}/releases`.
async fn list_releases(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut state = shared.lock();
    let rate = match state.api_gate(&shared) {
        Ok(rate) => rate,
        Err(refusal) => return refusal.into_response(),
    };
    if format!("{owner}/{repo}") != shared.repo {
        return api_not_found(&rate);
    }

    // Like GitHub, values that are not numbers are ignored rather than refused.
    let param = |name: &str| {
        query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .filter(|n| *n > 0)
    };
    let per_page = param("per_page")
        .unwrap_or(DEFAULT_PER_PAGE)
        .min(MAX_PER_PAGE)
        .min(state.max_per_page.unwrap_or(MAX_PER_PAGE));
    let page = param("page").unwrap_or(1);
    let total = state.releases.len();
    let last = total.div_ceil(per_page).max(1);

    let body: Vec<Value> = state
        .releases
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|entry| state.release_json(&shared, entry))
        .collect();
    drop(state);
    let body = serde_json::to_vec(&body).expect("JSON values serialize");
    let etag = format!("\"{}\"", hex::encode(sha256(&body)));

    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let mut response = if not_modified {
        api_response(StatusCode::NOT_MODIFIED, Body::empty(), &rate)
    } else {
        api_response(StatusCode::OK, Body::from(body), &rate)
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    if last > 1 {
        let link = link_header(&shared, per_page, page, last);
        headers.insert(
            header::LINK,
            HeaderValue::from_str(&link).expect("URLs are valid header text"),
        );
    }
    response
}

/// GitHub's pagination header, in its order: prev, next, last, first.
fn link_header(shared: &Shared, per_page: usize, page: usize, last: usize) -> String {
    let url = |n: usize| {
        format!(
            "<{}/repos/{}/releases?per_page={per_page}&page={n}>",
            shared.base_url, shared.repo
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    links.join(", ")
}

/// `GET /{owner}/{repo}/releases/download/{tag}/{name}`: like github.com, a redirect to the
/// storage that holds the bytes.
async fn download_redirect(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, tag, name)): Path<(String, String, String, String)>,
) -> Response {
    if format!("{owner}/{repo}") != shared.repo || lookup(&shared, &tag, &name).is_none() {
        return plain_not_found();
    }
    let location = format!("{}/objects/{tag}/{name}", shared.base_url);
    (
        StatusCode::FOUND,
        [(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("URLs are valid header text"),
        )],
    )
        .into_response()
}

/// What a download serves: the content of a published release's asset, whether to cut it, and
/// at what pace.
fn lookup(shared: &Shared, tag: &str, name: &str) -> Option<Download> {
    let version: Version = tag.strip_prefix('v')?.parse().ok()?;
    let state = shared.lock();
    // Drafts are not public on github.com: their files are not downloadable either.
    let entry = state.entry(&version).filter(|e| !e.release.draft)?;
    let asset = entry.assets.iter().find(|a| a.name == name)?;
    let served = state.served(&version, asset);
    Some(Download {
        content: served.content.clone(),
        truncate: state.truncate,
        rate: state.download_rate,
    })
}

/// What one download sends, under the switches in force when it was asked for.
struct Download {
    content: Content,
    truncate: bool,
    /// Bytes per second, when downloads are paced like a network link.
    rate: Option<u64>,
}

/// `GET /objects/{tag}/{name}`: the bytes.
async fn object(
    State(shared): State<Arc<Shared>>,
    Path((tag, name)): Path<(String, String)>,
) -> Response {
    let Some(Download {
        content,
        truncate,
        rate,
    }) = lookup(&shared, &tag, &name)
    else {
        return plain_not_found();
    };
    let size = content.size();
    let chunks = match (content, truncate) {
        (Content::Small(bytes), false) => stream::iter([Ok(bytes)]).boxed(),
        (Content::Small(bytes), true) => {
            let half = bytes.slice(..bytes.len() / 2);
            stream::iter([Ok(half)]).chain(cut_off()).boxed()
        }
        (Content::Large { seed, .. }, false) => stream::iter(noise(seed, size).map(Ok)).boxed(),
        (Content::Large { seed, .. }, true) => stream::iter(noise(seed, size / 2).map(Ok))
            .chain(cut_off())
            .boxed(),
    };
    let chunks = match rate {
        Some(rate) => paced(chunks, rate).boxed(),
        None => chunks,
    };
    let body = Body::from_stream(in_flight(chunks, size, InFlight::new(shared)));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // For a stream hyper takes the length from this header; a cut stream thus promises more
    // than it sends, which is exactly the fault.
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    response
}

/// The end of a truncated download: a pause, then an error that makes hyper abort the
/// connection. The pause lets hyper flush the headers and the bytes so far (it writes when the
/// body has nothing ready), so the client really receives a short body rather than nothing.
/// Keeps a download counted as in flight until its last byte (or its error) has been handed
/// to hyper: from then on a client may have it all, and start its next download.
fn in_flight(
    chunks: impl Stream<Item = io::Result<Bytes>>,
    size: u64,
    counted: InFlight,
) -> impl Stream<Item = io::Result<Bytes>> {
    let mut left = size;
    let mut counted = Some(counted);
    chunks.map(move |chunk| {
        left = match &chunk {
            Ok(bytes) => left.saturating_sub(bytes.len() as u64),
            Err(_) => 0,
        };
        if left == 0 {
            counted.take();
        }
        chunk
    })
}

/// Counts a download as in flight until dropped (by [`in_flight`], or with an abandoned body).
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: Arc<Shared>) -> Self {
        let mut state = shared.lock();
        state.downloads_in_flight += 1;
        state.peak_downloads_in_flight = state
            .peak_downloads_in_flight
            .max(state.downloads_in_flight);
        drop(state);
        InFlight(shared)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().downloads_in_flight -= 1;
    }
}

/// Holds each chunk back until a link of `rate` bytes per second would have delivered it, so
/// that a benchmark can compare downloads at a network's speed rather than the CPU's.
fn paced(
    chunks: impl Stream<Item = io::Result<Bytes>>,
    rate: u64,
) -> impl Stream<Item = io::Result<Bytes>> {
    let start = tokio::time::Instant::now();
    let mut sent = 0u64;
    chunks.then(move |chunk| {
        sent += chunk.as_ref().map_or(0, |c| c.len() as u64);
        let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
        async move {
            tokio::time::sleep_until(due).await;
            chunk
        }
    })
}

fn cut_off() -> impl Stream<Item = Result<Bytes, io::Error>> {
    stream::once(async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Err(io::Error::other("fake GitHub: download cut off on purpose"))
    })
}

/// Unknown API paths answer GitHub's JSON 404 (after the API faults, like any API call);
/// anything else a plain 404.
async fn fallback(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if !request.uri().path().starts_with("/repos/") {
        return plain_not_found();
    }
    let rate = shared.lock().api_gate(&shared);
    match rate {
        Ok(rate) => api_not_found(&rate),
        Err(refusal) => refusal.into_response(),
    }
}

/// A release with its generated assets.
struct Entry {
    release: FakeRelease,
    version: Version,
    id: u64,
    /// Sorted by name, as GitHub lists them.
    assets: Vec<GeneratedAsset>,
}

impl Entry {
    fn new(release: FakeRelease) -> Result<Entry, String> {
        let version: Version = release
            .version
            .parse()
            .map_err(|e: policy::VersionError| e.to_string())?;
        let (major, minor, patch) = version_parts(&version);
        // Deterministic ids, distinct per version, so listings are stable across runs.
        let id = (major * 1000 + minor) * 1000 + patch;
        let with_variants =
            Version::new(2, 286, 0) <= version && version <= Version::new(2, 311, 0);
        let variants: &[Variant] = if with_variants {
            &Variant::ALL
        } else {
            &[Variant::Full]
        };
        let mut assets: Vec<GeneratedAsset> = shipped_platforms(&version)
            .into_iter()
            .flat_map(|platform| variants.iter().map(move |&variant| (platform, variant)))
            .map(|(platform, variant)| GeneratedAsset::new(&version, platform, variant))
            .collect();
        assets.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, asset) in assets.iter_mut().enumerate() {
            asset.id = id * 100 + i as u64;
        }
        Ok(Entry {
            release: FakeRelease {
                version: version.to_string(),
                ..release
            },
            version,
            id,
            assets,
        })
    }
}

fn version_parts(version: &Version) -> (u64, u64, u64) {
    let text = version.to_string();
    let mut parts = text
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// The kinds of file a release carries per platform (variants only 2.286.0 to 2.311.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Variant {
    Full,
    NoExternals,
    NoRuntime,
    NoRuntimeNoExternals,
    TrimmedPackages,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::Full,
        Variant::NoExternals,
        Variant::NoRuntime,
        Variant::NoRuntimeNoExternals,
        Variant::TrimmedPackages,
    ];
    /// The variants that are packages, in the order of the body's checksum groups.
    const PACKAGES: [Variant; 4] = [
        Variant::Full,
        Variant::NoExternals,
        Variant::NoRuntime,
        Variant::NoRuntimeNoExternals,
    ];

    /// The suffix after the version in names (`-noexternals`); markers use `_` for `-`.
    fn suffix(self) -> &'static str {
        match self {
            Variant::Full => "",
            Variant::NoExternals => "-noexternals",
            Variant::NoRuntime => "-noruntime",
            Variant::NoRuntimeNoExternals => "-noruntime-noexternals",
            Variant::TrimmedPackages => "-trimmedpackages",
        }
    }
}

/// The content of an asset.
#[derive(Clone, Debug)]
enum Content {
    Small(Bytes),
    /// A pseudo-random body generated from `seed` while it is sent.
    Large {
        size: u64,
        seed: u64,
        sha256: [u8; 32],
    },
}

impl Content {
    fn size(&self) -> u64 {
        match self {
            Content::Small(bytes) => bytes.len() as u64,
            Content::Large { size, .. } => *size,
        }
    }
}

#[derive(Debug)]
struct GeneratedAsset {
    id: u64,
    name: String,
    platform: Platform,
    variant: Variant,
    content: Content,
    sha256: [u8; 32],
}

impl GeneratedAsset {
    fn new(version: &Version, platform: Platform, variant: Variant) -> GeneratedAsset {
        let name = match variant {
            Variant::Full => platform.asset_name(version),
            Variant::TrimmedPackages => format!(
                "actions-runner-{platform}-{version}{}.json",
                variant.suffix()
            ),
            _ => {
                let extension = match platform {
                    Platform::WinX64 | Platform::WinArm64 => "zip",
                    _ => "tar.gz",
                };
                format!(
                    "actions-runner-{platform}-{version}{}.{extension}",
                    variant.suffix()
                )
            }
        };
        let (bytes, sha256) = generated(&name, || match variant {
            Variant::TrimmedPackages => json!({
                "fake": true,
                "version": version.to_string(),
                "platform": platform.as_str(),
            })
            .to_string()
            .into_bytes(),
            _ => runner_package(version, platform, variant),
        });
        GeneratedAsset {
            id: 0,
            name,
            platform,
            variant,
            content: Content::Small(bytes),
            sha256,
        }
    }

    /// The label of the asset's checksum marker (`linux-x64`, `linux-x64_noexternals`); none
    /// for the trimmed-packages list, which GitHub never gave a marker.
    fn marker_label(&self) -> Option<String> {
        (self.variant != Variant::TrimmedPackages).then(|| {
            format!(
                "{}{}",
                self.platform.as_str(),
                self.variant.suffix().replace('-', "_")
            )
        })
    }
}

/// Generated bytes and their SHA-256.
type Generated = (Bytes, [u8; 32]);

/// Generated content is a pure function of the asset's name, so it is made once per process
/// and shared by every fake started in it (tests start many, each with the whole history).
fn generated(name: &str, make: impl FnOnce() -> Vec<u8>) -> Generated {
    static CACHE: OnceLock<Mutex<HashMap<String, Generated>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(name)
    {
        return hit.clone();
    }
    let bytes = Bytes::from(make());
    let made = (bytes.clone(), sha256(&bytes));
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.to_owned(), made.clone());
    made
}

/// A small runner package: a real gzip'd tar whose bytes depend only on its arguments (fixed
/// mtimes, owners and modes, gzip header without a time).
fn runner_package(version: &Version, platform: Platform, variant: Variant) -> Vec<u8> {
    let config_sh = format!(
        "#!/bin/sh\n\
         # Fake runner {version} ({platform}{suffix}) from runner-mirror's fake GitHub.\n\
         # Records its arguments in .configured next to it, so tests can check how the\n\
         # runner was configured, and in .token the registration token that the real\n\
         # runner takes from ACTIONS_RUNNER_INPUT_TOKEN in place of --token.\n\
         dir=$(cd \"$(dirname \"$0\")\" && pwd)\n\
         echo \"config.sh $*\"\n\
         printf '%s\\n' \"$*\" > \"$dir/.configured\"\n\
         token=${{ACTIONS_RUNNER_INPUT_TOKEN:-}}\n\
         [ -z \"$token\" ] || printf '%s\\n' \"$token\" > \"$dir/.token\"\n\
         exit 0\n",
        suffix = variant.suffix(),
    );
    let run_sh = format!(
        "#!/bin/sh\n\
         # Fake runner {version} ({platform}): there is no listener to run.\n\
         echo \"runner {version} would listen for jobs now\"\n\
         exit 0\n"
    );
    let listener = format!(
        "fake Runner.Listener {version} for {platform}{}\n",
        variant.suffix()
    );
    let version_file = version.to_string();
    let files: [(&str, u32, &[u8]); 4] = [
        ("config.sh", 0o755, config_sh.as_bytes()),
        ("run.sh", 0o755, run_sh.as_bytes()),
        ("bin/Runner.Listener", 0o755, listener.as_bytes()),
        ("VERSION", 0o644, version_file.as_bytes()),
    ];

    let gzip = GzEncoder::new(Vec::new(), Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    let header = |kind: tar::EntryType, size: usize, mode: u32| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size as u64);
        header.set_mode(mode);
        header.set_mtime(TAR_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header
    };
    let write = |tar: &mut tar::Builder<GzEncoder<Vec<u8>>>| -> io::Result<()> {
        tar.append_data(
            &mut header(tar::EntryType::Directory, 0, 0o755),
            "bin/",
            io::empty(),
        )?;
        for (path, mode, data) in files {
            tar.append_data(
                &mut header(tar::EntryType::Regular, data.len(), mode),
                path,
                data,
            )?;
        }
        Ok(())
    };
    write(&mut tar)
        .and_then(|()| tar.into_inner())
        .and_then(GzEncoder::finish)
        .expect("writing to memory cannot fail")
}

/// The pseudo-random body of a large asset: `len` bytes from `seed`, in chunks of [`CHUNK`].
/// Any prefix of the output is the same for every `len`, so a cut download is a true prefix.
fn noise(seed: u64, len: u64) -> impl Iterator<Item = Bytes> + Send + 'static {
    let mut state = seed;
    let mut left = len;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = usize::try_from(left.min(CHUNK as u64)).expect("a chunk fits in memory");
        left -= n as u64;
        let mut chunk = vec![0u8; n];
        for word in chunk.chunks_mut(8) {
            let x = splitmix64(&mut state).to_le_bytes();
            word.copy_from_slice(&x[..word.len()]);
        }
        Some(Bytes::from(chunk))
    })
}

/// SplitMix64: tiny, fast, and good enough that the body does not compress away.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

//! The redirect Lambda on real Function URL events (`fixtures/`): every route, every refusal,
//! the state cache, and after every request the invariant that the artifact store was asked
//! about nothing but the approved keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, IntoResponse, Request, RequestExt, Response};
use mirror::verify::ByteStream;
use mirror::{
    Approved, ArtifactKey, ArtifactStore, ChannelName, ChannelState, LocalStore, LogEntry,
    ReleaseCache, StateStore, StoreError, StoredArtifact,
};
use policy::{Artifact, ConfigDocument, Platform, Sha256, Version};
use redirect::Redirect;
use serde_json::Value;

const GET_EVENT: &str = include_str!("fixtures/function-url-get.json");
const POST_EVENT: &str = include_str!("fixtures/function-url-post.json");

const VERSION: &str = "2.317.0";
const X64_SHA256: &str = "f7db59adaa86d91712137640f4bb56a349ea8be54ebe8bf56e96c7bfa6cb819d";
const ARM64_SHA256: &str = "ad30f56d77afecb07d8c13180f15ead1d3c56f8fbdc199d7df42baf61af16afe";
const X64_LOCATION: &str = "/_artifacts/runners/v2.317.0/actions-runner-linux-x64-2.317.0.tar.gz";
const TTL: Duration = Duration::from_secs(30);

/// A Function URL event: the GET fixture with another method and path.
fn event(method: &str, path: &str) -> Value {
    let mut event: Value = serde_json::from_str(GET_EVENT).unwrap();
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
    event
}

fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn approved_keys() -> [ArtifactKey; 2] {
    let version: Version = VERSION.parse().unwrap();
    [
        ArtifactKey::new(version.clone(), Platform::LinuxX64),
        ArtifactKey::new(version, Platform::LinuxArm64),
    ]
}

/// `stable` at revision 1, with 2.317.0 approved for linux-x64 and linux-arm64.
fn stable_state() -> ChannelState {
    let [x64, arm64] = approved_keys();
    let stored = |key: ArtifactKey, sha256: &str| StoredArtifact {
        key,
        sha256: sha256.parse::<Sha256>().unwrap(),
        size: 180_000_000,
    };
    ChannelState {
        revision: 1,
        approved: Some(Approved {
            version: VERSION.parse().unwrap(),
            approved_at: "2024-07-25T06:00:00Z".parse().unwrap(),
            artifacts: [
                (Platform::LinuxX64, stored(x64, X64_SHA256)),
                (Platform::LinuxArm64, stored(arm64, ARM64_SHA256)),
            ]
            .into(),
        }),
        ..ChannelState::default()
    }
}

/// The local store behind both ports, counting state reads and recording every key the
/// artifact store is asked about.
struct Recorder {
    local: LocalStore,
    state_reads: AtomicUsize,
    keys: Mutex<Vec<ArtifactKey>>,
}

impl Recorder {
    fn record(&self, key: &ArtifactKey) {
        self.keys.lock().unwrap().push(key.clone());
    }
}

#[async_trait]
impl StateStore for Recorder {
    async fn channels(&self) -> Result<Vec<ChannelName>, StoreError> {
        self.local.channels().await
    }

    async fn config_document(&self, channel: &ChannelName) -> Result<ConfigDocument, StoreError> {
        self.local.config_document(channel).await
    }

    async fn save_config(
        &self,
        channel: &ChannelName,
        document: &ConfigDocument,
    ) -> Result<(), StoreError> {
        self.local.save_config(channel, document).await
    }

    fn config_location(&self, channel: &ChannelName) -> String {
        self.local.config_location(channel)
    }

    async fn state(&self, channel: &ChannelName) -> Result<ChannelState, StoreError> {
        self.state_reads.fetch_add(1, Ordering::SeqCst);
        self.local.state(channel).await
    }

    async fn commit(&self, channel: &ChannelName, state: &ChannelState) -> Result<(), StoreError> {
        self.local.commit(channel, state).await
    }

    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError> {
        self.local.append_log(entry).await
    }

    async fn log(&self, channel: &ChannelName, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        self.local.log(channel, limit).await
    }

    async fn release_cache(&self) -> Result<Option<ReleaseCache>, StoreError> {
        self.local.release_cache().await
    }

    async fn save_release_cache(&self, cache: &ReleaseCache) -> Result<(), StoreError> {
        self.local.save_release_cache(cache).await
    }
}

#[async_trait]
impl ArtifactStore for Recorder {
    async fn has(&self, key: &ArtifactKey, sha256: &Sha256) -> Result<bool, StoreError> {
        self.record(key);
        self.local.has(key, sha256).await
    }

    async fn put(
        &self,
        key: &ArtifactKey,
        artifact: &Artifact,
        body: ByteStream,
    ) -> Result<(), StoreError> {
        self.record(key);
        self.local.put(key, artifact, body).await
    }

    async fn download_url(&self, key: &ArtifactKey) -> Result<String, StoreError> {
        self.record(key);
        self.local.download_url(key).await
    }

    async fn copy_to_channel(
        &self,
        channel: &ChannelName,
        key: &ArtifactKey,
    ) -> Result<(), StoreError> {
        self.record(key);
        self.local.copy_to_channel(channel, key).await
    }
}

/// A redirect on a local store holding `stable` (approved) and `canary` (a config, nothing
/// approved yet).
struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Recorder>,
    redirect: Redirect,
}

impl Fixture {
    async fn new(ttl: Duration) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalStore::new(dir.path());
        let stable: ChannelName = "stable".parse().unwrap();
        local.commit(&stable, &stable_state()).await.unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/canary.json"), "{}").unwrap();
        let store = Arc::new(Recorder {
            local,
            state_reads: AtomicUsize::new(0),
            keys: Mutex::new(Vec::new()),
        });
        let redirect = Redirect::new(store.clone(), store.clone(), ttl);
        Fixture {
            _dir: dir,
            store,
            redirect,
        }
    }

    /// Every request of every test goes through here, so the invariant is checked after each:
    /// whatever the request said, the artifact store only heard of the approved keys.
    async fn send(&self, request: Request) -> Response<Body> {
        let response = self.redirect.handle(request).await.unwrap();
        let approved = approved_keys();
        for key in self.store.keys.lock().unwrap().iter() {
            assert!(
                approved.contains(key),
                "the artifact store was asked about {key}"
            );
        }
        response
    }

    async fn get(&self, method: &str, path: &str) -> Response<Body> {
        self.send(request(&event(method, path))).await
    }

    fn asked(&self) -> Vec<ArtifactKey> {
        self.store.keys.lock().unwrap().clone()
    }

    fn state_reads(&self) -> usize {
        self.store.state_reads.load(Ordering::SeqCst)
    }
}

fn header(response: &Response<Body>, name: impl header::AsHeaderName) -> &str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn text(response: &Response<Body>) -> &str {
    match response.body() {
        Body::Text(text) => text,
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn json(response: &Response<Body>) -> Value {
    assert_eq!(header(response, header::CONTENT_TYPE), "application/json");
    serde_json::from_str(text(response)).unwrap()
}

#[test]
fn a_function_url_event_is_an_http_api_request_with_its_raw_path() {
    let request = lambda_http::request::from_str(GET_EVENT).unwrap();
    assert!(matches!(
        request.request_context(),
        RequestContext::ApiGatewayV2(_)
    ));
    assert_eq!(request.method(), Method::GET);
    assert_eq!(request.raw_http_path(), "/stable/linux-x64");
    assert_eq!(
        request.uri().to_string(),
        "https://abcdefghijklmnopqrstuvwxyz0123456.lambda-url.eu-west-1.on.aws/stable/linux-x64"
    );
}

#[tokio::test]
async fn routes_see_the_raw_path_not_the_normalized_uri() {
    let fixture = Fixture::new(TTL).await;
    // lambda_http resolves dot segments, percent-encoded ones too, when it builds the URI:
    // routed on `uri().path()`, each of these would be a redirect to the approved artifact.
    for raw in [
        "/stable/../stable/linux-x64",
        "/x/../stable/linux-x64",
        "/stable/%2e%2e/stable/linux-x64",
        "/stable/./linux-x64",
    ] {
        let request = request(&event("GET", raw));
        assert_eq!(request.uri().path(), "/stable/linux-x64", "{raw}");
        assert_eq!(request.raw_http_path(), raw);
        let response = fixture.send(request).await;
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND].contains(&response.status()),
            "{raw}: {}",
            response.status()
        );
        assert_eq!(json(&response)["route"], raw);
    }
    // An encoded slash stays encoded in both, and is refused.
    let request = request(&event("GET", "/stable%2Flinux-x64"));
    assert_eq!(request.uri().path(), "/stable%2Flinux-x64");
    assert_eq!(
        fixture.send(request).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert!(fixture.asked().is_empty());
}

#[tokio::test]
async fn get_and_head_redirect_to_the_approved_artifact() {
    let fixture = Fixture::new(TTL).await;
    let get = fixture
        .send(lambda_http::request::from_str(GET_EVENT).unwrap())
        .await;
    let head = fixture.get("HEAD", "/stable/linux-x64").await;
    for response in [&get, &head] {
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(header(response, header::LOCATION), X64_LOCATION);
        assert_eq!(header(response, "x-runner-version"), VERSION);
        assert_eq!(header(response, "x-runner-sha256"), X64_SHA256);
        assert_eq!(header(response, header::CACHE_CONTROL), "no-store");
        assert_eq!(header(response, header::CONTENT_LENGTH), "0");
        assert_eq!(response.body(), &Body::Empty);
    }
    let [x64, _] = approved_keys();
    assert_eq!(fixture.asked(), [x64.clone(), x64]);
}

#[tokio::test]
async fn the_query_string_is_ignored() {
    let fixture = Fixture::new(TTL).await;
    let mut event = event("GET", "/stable/linux-x64");
    event["rawQueryString"] = "platform=../../state/stable.json&key=x".into();
    let request = request(&event);
    assert_eq!(
        request.uri().query(),
        Some("platform=../../state/stable.json&key=x")
    );
    let response = fixture.send(request).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(header(&response, header::LOCATION), X64_LOCATION);
}

#[tokio::test]
async fn checksum_and_version_are_text() {
    let fixture = Fixture::new(TTL).await;
    let checksum = fixture.get("GET", "/stable/linux-arm64.sha256").await;
    let version = fixture.get("GET", "/stable/version").await;
    for (response, body) in [
        (&checksum, format!("{ARM64_SHA256}\n")),
        (&version, format!("{VERSION}\n")),
    ] {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(response, header::CONTENT_TYPE),
            "text/plain; charset=utf-8"
        );
        assert_eq!(header(response, "x-runner-version"), VERSION);
        assert_eq!(header(response, header::CACHE_CONTROL), "no-store");
        assert_eq!(text(response), body);
    }
    let head = fixture.get("HEAD", "/stable/version").await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.body(), &Body::Empty);
    // Only the redirect needs a download URL.
    assert!(fixture.asked().is_empty());
}

#[tokio::test]
async fn the_channel_is_a_json_status() {
    let fixture = Fixture::new(TTL).await;
    let response = fixture.get("GET", "/stable").await;
    assert_eq!(response.status(), StatusCode::OK);
    let status = json(&response);
    assert_eq!(status["channel"], "stable");
    assert_eq!(status["version"], VERSION);
    assert_eq!(status["approved_at"], "2024-07-25T06:00:00Z");
    assert_eq!(status["artifacts"]["linux-x64"]["sha256"], X64_SHA256);
    assert_eq!(status["artifacts"]["linux-arm64"]["sha256"], ARM64_SHA256);
    assert_eq!(
        status["artifacts"]["linux-x64"]["key"],
        "runners/v2.317.0/actions-runner-linux-x64-2.317.0.tar.gz"
    );
}

#[tokio::test]
async fn other_methods_are_not_allowed() {
    let fixture = Fixture::new(TTL).await;
    let post = fixture
        .send(lambda_http::request::from_str(POST_EVENT).unwrap())
        .await;
    let mut responses = vec![("POST", post)];
    for method in ["PUT", "DELETE", "PATCH"] {
        responses.push((method, fixture.get(method, "/stable/linux-x64").await));
    }
    for (method, response) in responses {
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(header(&response, header::ALLOW), "GET, HEAD");
        assert_eq!(
            json(&response)["error"],
            format!("method {method} is not allowed")
        );
    }
    assert!(fixture.asked().is_empty());
}

#[tokio::test]
async fn unknown_channels_and_platforms_are_json_404s() {
    let fixture = Fixture::new(TTL).await;
    for (path, error) in [
        ("/beta/linux-x64", "unknown channel beta"),
        ("/beta", "unknown channel beta"),
        ("/stable/linux-x86", "linux-x86"),
        (
            "/stable/win-x64",
            "platform win-x64 is not mirrored on channel stable",
        ),
        (
            "/stable/osx-arm64.sha256",
            "platform osx-arm64 is not mirrored on channel stable",
        ),
    ] {
        let response = fixture.get("GET", path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body = json(&response);
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(error), "{path}: {message}");
        assert_eq!(body["route"], path);
        assert_eq!(header(&response, header::CACHE_CONTROL), "no-store");
    }
    assert!(fixture.asked().is_empty());
}

#[tokio::test]
async fn a_channel_with_nothing_approved_is_unavailable() {
    let fixture = Fixture::new(TTL).await;
    for path in ["/canary/linux-x64", "/canary/version", "/canary"] {
        let response = fixture.get("GET", path).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            json(&response)["error"],
            "channel canary has no approved version yet"
        );
    }
    assert!(fixture.asked().is_empty());
}

#[tokio::test]
async fn traversal_encoding_and_overlong_paths_are_refused() {
    let fixture = Fixture::new(TTL).await;
    let long = format!("/stable/{}", "x".repeat(292));
    assert_eq!(long.len(), 300);
    for (path, status) in [
        ("/stable/../x", StatusCode::NOT_FOUND),
        ("/../../etc/passwd", StatusCode::NOT_FOUND),
        ("/stable/..", StatusCode::NOT_FOUND),
        ("/..", StatusCode::NOT_FOUND),
        ("/stable%2Flinux-x64", StatusCode::BAD_REQUEST),
        ("/stable/..%2F..%2Fstate", StatusCode::BAD_REQUEST),
        ("/stable/linux-x64%00", StatusCode::BAD_REQUEST),
        (&long, StatusCode::BAD_REQUEST),
        ("/", StatusCode::NOT_FOUND),
        ("//stable/linux-x64", StatusCode::NOT_FOUND),
        ("/stable/linux-x64/", StatusCode::NOT_FOUND),
        ("/Stable/linux-x64", StatusCode::NOT_FOUND),
        ("/stable/linux x64", StatusCode::NOT_FOUND),
        ("/stable/linux-x64.sha256.sha256", StatusCode::NOT_FOUND),
        // The local store's artifact route is `runner-mirror serve`'s, not a redirect route.
        (X64_LOCATION, StatusCode::NOT_FOUND),
    ] {
        for method in ["GET", "HEAD"] {
            let response = fixture.get(method, path).await;
            assert_eq!(response.status(), status, "{method} {path}");
            assert_eq!(header(&response, header::LOCATION), "", "{method} {path}");
        }
        assert_eq!(json(&fixture.get("GET", path).await)["route"], path);
    }
    assert!(fixture.asked().is_empty());
}

#[tokio::test]
async fn a_burst_costs_one_state_read() {
    // One Lambda instance serves one request at a time, so a burst reaches each instance as a
    // sequence: the first request reads the state, the next ones within the TTL do not.
    let fixture = Fixture::new(TTL).await;
    for _ in 0..100 {
        let response = fixture.get("GET", "/stable/linux-x64").await;
        assert_eq!(response.status(), StatusCode::FOUND);
    }
    assert_eq!(fixture.state_reads(), 1);
    assert_eq!(fixture.asked().len(), 100);
}

#[tokio::test]
async fn without_a_ttl_every_request_reads_the_state() {
    let fixture = Fixture::new(Duration::ZERO).await;
    for _ in 0..3 {
        fixture.get("GET", "/stable/version").await;
    }
    assert_eq!(fixture.state_reads(), 3);
}

#[tokio::test]
async fn the_runtime_sends_what_the_handler_answered() {
    // lambda_http converts the handler's response once more (by content type) before it
    // becomes the Function URL's answer; nothing may change on the way.
    let fixture = Fixture::new(TTL).await;
    for path in [
        "/stable/linux-x64",
        "/stable/version",
        "/stable",
        "/beta/linux-x64",
    ] {
        let answered = fixture.get("GET", path).await;
        let sent = fixture.get("GET", path).await.into_response().await;
        assert_eq!(sent.status(), answered.status(), "{path}");
        assert_eq!(sent.headers(), answered.headers(), "{path}");
        assert_eq!(**sent.body(), **answered.body(), "{path}");
    }
}

//! The redirect routes, written once over `http` types so `runner-mirror serve` and the
//! redirect Lambda answer alike:
//!
//! - `GET|HEAD /<channel>/<platform>`: 302 to the approved artifact, with its version and SHA-256
//! - `GET|HEAD /<channel>/<platform>.sha256`: the SHA-256, as text
//! - `GET|HEAD /<channel>/version`: the approved version, as text
//! - `GET|HEAD /<channel>`: the channel's status, as JSON
//!
//! A request can only name a channel and a platform, both validated; the store key and the
//! redirect target come from the channel's state, never from the request.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use policy::Platform;
use serde_json::json;

use crate::names::ChannelName;
use crate::state::{Approved, ChannelState};
use crate::store::{ArtifactStore, StateStore, StoreError};

/// Longer paths are refused before any parsing; real routes are under 40 bytes.
const MAX_PATH: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Status(ChannelName),
    Version(ChannelName),
    Artifact(ChannelName, Platform),
    Checksum(ChannelName, Platform),
}

/// Why a path is not a route; each maps to a status code and a JSON error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("path is longer than {MAX_PATH} bytes")]
    TooLong,
    #[error("percent-encoded characters are not allowed")]
    Encoded,
    #[error("no such route")]
    NotFound,
    #[error(transparent)]
    Channel(#[from] crate::names::ChannelNameError),
    #[error(transparent)]
    Platform(#[from] policy::PlatformError),
}

impl RouteError {
    fn status(&self) -> StatusCode {
        match self {
            RouteError::TooLong | RouteError::Encoded => StatusCode::BAD_REQUEST,
            _ => StatusCode::NOT_FOUND,
        }
    }
}

/// Parses a request path (without query) into a route.
pub fn parse_route(path: &str) -> Result<Route, RouteError> {
    if path.len() > MAX_PATH {
        return Err(RouteError::TooLong);
    }
    if path.contains('%') {
        return Err(RouteError::Encoded);
    }
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    match segments[..] {
        [channel] if !channel.is_empty() => Ok(Route::Status(channel.parse()?)),
        [channel, "version"] => Ok(Route::Version(channel.parse()?)),
        [channel, file] => {
            let channel = channel.parse()?;
            match file.strip_suffix(".sha256") {
                Some(platform) => Ok(Route::Checksum(channel, platform.parse()?)),
                None => Ok(Route::Artifact(channel, file.parse()?)),
            }
        }
        _ => Err(RouteError::NotFound),
    }
}

/// Answers one request. Store failures are logged and answered with a 500 that does not
/// reveal them.
pub async fn respond(
    method: &Method,
    path: &str,
    state: &dyn StateStore,
    artifacts: &dyn ArtifactStore,
) -> Response<Bytes> {
    let response = respond_with_body(method, path, state, artifacts).await;
    // A HEAD answer is the GET answer without its body, whatever the route or error.
    if method == Method::HEAD {
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, Bytes::new());
    }
    response
}

async fn respond_with_body(
    method: &Method,
    path: &str,
    state: &dyn StateStore,
    artifacts: &dyn ArtifactStore,
) -> Response<Bytes> {
    let route = match parse_route(path) {
        Ok(route) => route,
        Err(e) => return error(e.status(), path, &e.to_string()),
    };
    if method != Method::GET && method != Method::HEAD {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            path,
            &format!("method {method} is not allowed"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match answer(&route, path, state, artifacts).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(path, error = %e, "store failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                path,
                "the mirror's store failed; see its logs",
            )
        }
    }
}

async fn answer(
    route: &Route,
    path: &str,
    state: &dyn StateStore,
    artifacts: &dyn ArtifactStore,
) -> Result<Response<Bytes>, StoreError> {
    let channel = match route {
        Route::Status(c) | Route::Version(c) | Route::Artifact(c, _) | Route::Checksum(c, _) => c,
    };
    let current = state.state(channel).await?;
    let Some(approved) = &current.approved else {
        // The default channel exists from the start: before the first evaluation of a new
        // deployment, runners are told to wait, not that they asked for the wrong thing.
        let known = *channel == ChannelName::default() || state.channels().await?.contains(channel);
        return Ok(if known {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                path,
                &format!("channel {channel} has no approved version yet"),
            )
        } else {
            error(
                StatusCode::NOT_FOUND,
                path,
                &format!("unknown channel {channel}"),
            )
        });
    };
    let not_mirrored = |platform: &Platform| {
        let mirrored: Vec<&str> = approved.artifacts.keys().map(|p| p.as_str()).collect();
        error(
            StatusCode::NOT_FOUND,
            path,
            &format!(
                "platform {platform} is not mirrored on channel {channel} (mirrored: {})",
                mirrored.join(", ")
            ),
        )
    };
    Ok(match route {
        Route::Status(_) => status_json(channel, &current, approved),
        Route::Version(_) => text(format!("{}\n", approved.version), approved),
        Route::Checksum(_, platform) => match approved.artifacts.get(platform) {
            Some(a) => text(format!("{}\n", a.sha256), approved),
            None => not_mirrored(platform),
        },
        Route::Artifact(_, platform) => match approved.artifacts.get(platform) {
            Some(a) => {
                let target = artifacts.download_url(&a.key).await?;
                let mut response = Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, target)
                    .header(header::CACHE_CONTROL, "no-store")
                    .header("x-runner-version", approved.version.to_string())
                    .header("x-runner-sha256", a.sha256.to_string())
                    .body(Bytes::new())
                    .expect("a redirect is a valid response");
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                response
            }
            None => not_mirrored(platform),
        },
    })
}

fn text(body: String, approved: &Approved) -> Response<Bytes> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-runner-version", approved.version.to_string())
        .body(Bytes::from(body))
        .expect("a text response is valid")
}

fn status_json(
    channel: &ChannelName,
    state: &ChannelState,
    approved: &Approved,
) -> Response<Bytes> {
    let decision = state.last_decision.as_ref();
    let body = json!({
        "channel": channel,
        "version": approved.version,
        "approved_at": approved.approved_at,
        "cutoff": decision.and_then(|d| d.cutoff),
        "next_change": decision.and_then(|d| d.next_change),
        "artifacts": approved.artifacts,
        "last_failure": state.last_failure,
        "last_decision": decision,
    });
    json_response(StatusCode::OK, &body)
}

fn error(status: StatusCode, path: &str, message: &str) -> Response<Bytes> {
    json_response(status, &json!({ "error": message, "route": path }))
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Bytes::from(body.to_string()))
        .expect("a JSON response is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str) -> ChannelName {
        name.parse().unwrap()
    }

    #[tokio::test]
    async fn head_answers_never_carry_a_body() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::LocalStore::new(dir.path());
        for path in [
            "/stable/../x",
            "/stable%2Flinux-x64",
            "/nope/linux-x64",
            "/stable",
        ] {
            let get = respond(&Method::GET, path, &store, &store).await;
            let head = respond(&Method::HEAD, path, &store, &store).await;
            assert_eq!(head.status(), get.status(), "{path}");
            assert!(!get.body().is_empty(), "{path}: GET explains the error");
            assert!(head.body().is_empty(), "{path}: HEAD has no body");
        }
    }

    #[tokio::test]
    async fn the_default_channel_is_unavailable_before_its_first_approval() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::LocalStore::new(dir.path());
        for (path, status, message) in [
            (
                "/stable/linux-x64",
                StatusCode::SERVICE_UNAVAILABLE,
                "channel stable has no approved version yet",
            ),
            (
                "/beta/linux-x64",
                StatusCode::NOT_FOUND,
                "unknown channel beta",
            ),
        ] {
            let response = respond(&Method::GET, path, &store, &store).await;
            assert_eq!(response.status(), status, "{path}");
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(body["error"], message, "{path}");
        }
    }

    #[test]
    fn routes() {
        assert_eq!(parse_route("/stable"), Ok(Route::Status(channel("stable"))));
        assert_eq!(
            parse_route("/stable/version"),
            Ok(Route::Version(channel("stable")))
        );
        assert_eq!(
            parse_route("/canary/linux-arm64"),
            Ok(Route::Artifact(channel("canary"), Platform::LinuxArm64))
        );
        assert_eq!(
            parse_route("/stable/win-x64.sha256"),
            Ok(Route::Checksum(channel("stable"), Platform::WinX64))
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for (path, expected) in [
            ("/", RouteError::NotFound),
            ("", RouteError::NotFound),
            (
                "/stable/",
                RouteError::Platform(policy::PlatformError {
                    name: String::new(),
                }),
            ),
            ("/stable/linux-x64/extra", RouteError::NotFound),
            ("/stable/../state", RouteError::NotFound),
            (
                "/stable/..",
                RouteError::Platform(policy::PlatformError { name: "..".into() }),
            ),
            ("/stable/..%2Fstate", RouteError::Encoded),
            ("/stable%2Flinux-x64", RouteError::Encoded),
        ] {
            assert_eq!(parse_route(path), Err(expected), "{path}");
        }
        assert!(matches!(
            parse_route("/Stable"),
            Err(RouteError::Channel(_))
        ));
        assert!(matches!(
            parse_route("//stable"),
            Err(RouteError::Channel(_))
        ));
        assert!(matches!(
            parse_route("/../etc/passwd"),
            Err(RouteError::NotFound)
        ));
        assert!(matches!(
            parse_route("/_artifacts"),
            Err(RouteError::Channel(_))
        ));
        assert!(matches!(
            parse_route("/stable/linux-x86"),
            Err(RouteError::Platform(_))
        ));
        assert_eq!(
            parse_route(&format!("/{}", "a".repeat(200))),
            Err(RouteError::TooLong)
        );
    }
}

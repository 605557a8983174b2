//! The redirect Lambda behind a Function URL: runners ask for `/<channel>/<platform>` and get a
//! 302 to a presigned S3 URL of the approved artifact.
//!
//! This crate owns [`Redirect`]: its configuration from the environment ([`ConfigError`]), the
//! stores it answers from (DynamoDB state cached for a short time, S3 artifacts), and the
//! conversion between Function URL requests and [`mirror::routes::respond`], which owns the
//! routes themselves and is shared with `runner-mirror serve`.

use std::env::{self, VarError};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambda_http::{http, Body, Request, RequestExt, Response};
use mirror::{routes, ArtifactStore, CachedState, DynamoStore, S3Store, StateStore};

const TABLE: &str = "RUNNER_MIRROR_TABLE";
const BUCKET: &str = "RUNNER_MIRROR_BUCKET";
const STATE_TTL: &str = "RUNNER_MIRROR_STATE_TTL_SECONDS";
const PRESIGN: &str = "RUNNER_MIRROR_PRESIGN_SECONDS";

/// How long a channel's state is served from memory: a fleet booting at once costs one read,
/// and a new approval reaches runners within this time.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(30);

/// How long a presigned download URL stays valid: long enough for a runner to start the
/// download, short enough that a leaked URL is soon useless.
pub const DEFAULT_PRESIGN_EXPIRY: Duration = Duration::from_secs(300);

/// Why the function cannot start; each names the environment variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} is not set (or is empty): it must name the {what}")]
    Missing {
        variable: &'static str,
        what: &'static str,
    },
    #[error("{variable}={value:?} is not {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The handler: answers the redirect routes from the cached channel state and the artifact
/// store.
pub struct Redirect {
    state: CachedState,
    artifacts: Arc<dyn ArtifactStore>,
}

impl Redirect {
    /// A handler on these stores, caching channel state for `ttl`.
    pub fn new(
        state: Arc<dyn StateStore>,
        artifacts: Arc<dyn ArtifactStore>,
        ttl: Duration,
    ) -> Redirect {
        Redirect {
            state: CachedState::new(state, ttl),
            artifacts,
        }
    }

    /// The handler on the DynamoDB table and S3 bucket the environment names (see
    /// [`ConfigError`] for the variables). It makes no request at start: presigning a URL
    /// needs none, and the cold start of a runner's first download should not wait for checks.
    /// A wrong table or a missing permission shows in each request's answer and log instead.
    pub async fn from_env() -> Result<Redirect, ConfigError> {
        let settings = Settings::read(env::var)?;
        let config = mirror::sdk_config().await;
        let state = DynamoStore::unchecked(&config, &settings.table);
        let artifacts = S3Store::unchecked(&config, &settings.bucket)
            .with_presign_expiry(settings.presign_expiry);
        Ok(Redirect::new(
            Arc::new(state),
            Arc::new(artifacts),
            settings.state_ttl,
        ))
    }

    /// Answers one Function URL request. Never fails: every outcome, a store failure included,
    /// is an HTTP response; the `Result` is what `lambda_http::run` expects.
    pub async fn handle(&self, request: Request) -> Result<Response<Body>, lambda_http::Error> {
        // Not `request.uri().path()`: lambda_http rebuilds the URI with `url::Url`, which
        // resolves dot segments (`/stable/../x` and `/stable/%2e%2e/x` become `/x`). The route
        // parser must see what the client sent, so that it can refuse it. (The raw path is empty,
        // hence a 404, for a request that did not come from an event.)
        let path = request.raw_http_path();
        let method = request.method();
        let response = routes::respond(method, path, &self.state, &*self.artifacts).await;
        tracing::info!(
            %method,
            path,
            status = response.status().as_u16(),
            "request"
        );
        Ok(lambda_response(response))
    }
}

/// The routes' response with the body lambda_http expects.
fn lambda_response(response: http::Response<Bytes>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        // Function URLs carry a body as text or as base64; text is exact for any UTF-8 body
        // whatever its content type, and it is what the routes' text and JSON bodies are.
        match String::from_utf8(Vec::from(body)) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    Response::from_parts(parts, body)
}

/// The environment, validated.
#[derive(Debug, PartialEq)]
struct Settings {
    table: String,
    bucket: String,
    state_ttl: Duration,
    presign_expiry: Duration,
}

impl Settings {
    /// Reads the variables through `var` (`std::env::var` in the function), so tests need not
    /// change the process environment.
    fn read(var: impl Fn(&'static str) -> Result<String, VarError>) -> Result<Self, ConfigError> {
        let value = |variable| match var(variable) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => Ok(Some(value)),
            Err(VarError::NotPresent) => Ok(None),
            Err(VarError::NotUnicode(value)) => Err(ConfigError::Invalid {
                variable,
                value: value.to_string_lossy().into_owned(),
                expected: "valid UTF-8",
            }),
        };
        let required =
            |variable, what| value(variable)?.ok_or(ConfigError::Missing { variable, what });
        let seconds = |variable, default| match value(variable)? {
            None => Ok(default),
            Some(text) => {
                text.trim()
                    .parse()
                    .map(Duration::from_secs)
                    .map_err(|_| ConfigError::Invalid {
                        variable,
                        value: text,
                        expected: "a whole number of seconds",
                    })
            }
        };
        Ok(Settings {
            table: required(TABLE, "DynamoDB table that holds the channels' state")?,
            bucket: required(BUCKET, "S3 bucket that holds the runner artifacts")?,
            state_ttl: seconds(STATE_TTL, DEFAULT_STATE_TTL)?,
            presign_expiry: seconds(PRESIGN, DEFAULT_PRESIGN_EXPIRY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&'static str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<_, _> = vars.iter().copied().collect();
        Settings::read(|name| {
            vars.get(name)
                .map(|v| v.to_string())
                .ok_or(VarError::NotPresent)
        })
    }

    #[test]
    fn defaults_apply_to_the_optional_variables() {
        let settings = read(&[(TABLE, "runner-mirror"), (BUCKET, "runners")]).unwrap();
        assert_eq!(
            settings,
            Settings {
                table: "runner-mirror".into(),
                bucket: "runners".into(),
                state_ttl: Duration::from_secs(30),
                presign_expiry: Duration::from_secs(300),
            }
        );
        let settings = read(&[
            (TABLE, "t"),
            (BUCKET, "b"),
            (STATE_TTL, "5"),
            (PRESIGN, " 60 "),
        ])
        .unwrap();
        assert_eq!(settings.state_ttl, Duration::from_secs(5));
        assert_eq!(settings.presign_expiry, Duration::from_secs(60));
    }

    #[test]
    fn errors_name_the_variable() {
        for (vars, variable) in [
            (&[(BUCKET, "b")][..], TABLE),
            (&[(TABLE, "t")][..], BUCKET),
            (&[(TABLE, " "), (BUCKET, "b")][..], TABLE),
            (
                &[(TABLE, "t"), (BUCKET, "b"), (STATE_TTL, "30s")][..],
                STATE_TTL,
            ),
            (&[(TABLE, "t"), (BUCKET, "b"), (PRESIGN, "-1")][..], PRESIGN),
        ] {
            let message = read(vars).unwrap_err().to_string();
            assert!(message.starts_with(variable), "{message}");
        }
        let missing = read(&[]).unwrap_err().to_string();
        assert_eq!(
            missing,
            "RUNNER_MIRROR_TABLE is not set (or is empty): it must name the DynamoDB table that \
             holds the channels' state"
        );
    }
}

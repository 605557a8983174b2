//! The GitHub release source: lists the releases of a repository through the REST API
//! (paginated, conditional with ETags, retried on server errors, clear about rate limits) and
//! downloads release assets as verified streams.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::TryStreamExt;
use policy::{Artifact, Release, ReleaseList, SkippedRelease};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::verify::{verified, ByteStream};

pub const DEFAULT_API: &str = "https://api.github.com";
pub const DEFAULT_REPO: &str = "actions/runner";
/// The REST API version this client speaks.
const API_VERSION: &str = "2022-11-28";
/// More pages than any real release list has; a guard against a server that links in circles.
const MAX_PAGES: usize = 100;

/// A GitHub token. It is sent only in the `Authorization` header of API requests to the
/// configured API host and never printed: `Debug` and `Display` show `***`.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(secret: String) -> Option<Self> {
        let secret = secret.trim().to_owned();
        (!secret.is_empty()).then_some(Token(secret))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

#[derive(Clone, Debug)]
pub struct GithubConfig {
    /// The API base, `https://api.github.com` or a GitHub Enterprise Server's `https://HOST/api/v3`.
    pub api: Url,
    /// `owner/name`.
    pub repo: String,
    pub token: Option<Token>,
    /// Attempts per request on a server error or time-out.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each.
    pub backoff: Duration,
}

impl GithubConfig {
    pub fn new(api: &str, repo: &str, token: Option<Token>) -> Result<Self, SourceError> {
        let api = Url::parse(api)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                SourceError::Config(format!("GitHub API URL {api:?} is not an http(s) URL"))
            })?;
        let valid_part = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match repo.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => {}
            _ => {
                return Err(SourceError::Config(format!(
                    "repository {repo:?} is not OWNER/NAME"
                )))
            }
        }
        Ok(GithubConfig {
            api,
            repo: repo.to_owned(),
            token,
            attempts: 4,
            backoff: Duration::from_secs(1),
        })
    }

    fn releases_url(&self) -> String {
        let base = self.api.as_str().trim_end_matches('/');
        format!("{base}/repos/{}/releases?per_page=100", self.repo)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Config(String),
    #[error("GitHub API rate limit exceeded ({status} for {url}); {}; a GITHUB_TOKEN raises the limit", reset_text(.resets_at, .retry_after))]
    RateLimited {
        url: String,
        status: StatusCode,
        resets_at: Option<DateTime<Utc>>,
        retry_after: Option<u64>,
    },
    #[error("GitHub answered {status} for {url}{}: {message}", attempts_text(*.attempts))]
    Status {
        url: String,
        status: StatusCode,
        attempts: u32,
        message: String,
    },
    #[error("cannot reach {url}{}: {cause}", attempts_text(*.attempts))]
    Transport {
        url: String,
        attempts: u32,
        cause: reqwest::Error,
    },
    #[error("{url}: {cause}")]
    Parse {
        url: String,
        cause: policy::InputError,
    },
    #[error("{0}")]
    Protocol(String),
}

fn reset_text(resets_at: &Option<DateTime<Utc>>, retry_after: &Option<u64>) -> String {
    let resets = resets_at.map(|t| format!("it resets at {}", policy::rfc3339(&t)));
    match (retry_after, resets) {
        (Some(secs), Some(resets)) => format!("retry after {secs} s ({resets})"),
        (Some(secs), None) => format!("retry after {secs} s"),
        (None, Some(resets)) => resets,
        (None, None) => "the reset time was not given".to_owned(),
    }
}

fn attempts_text(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// A page of the listing as last fetched, with the ETag that lets GitHub answer 304.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedPage {
    pub url: String,
    pub etag: String,
    pub next: Option<String>,
    pub releases: Vec<Release>,
    pub skipped: Vec<SkippedRelease>,
}

/// The last listing, page by page, so an unchanged listing costs only 304s.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseCache {
    pub pages: Vec<CachedPage>,
}

impl ReleaseCache {
    fn page(&self, url: &str) -> Option<&CachedPage> {
        self.pages.iter().find(|p| p.url == url)
    }
}

/// What one listing found.
#[derive(Debug)]
pub struct Listing {
    pub releases: ReleaseList,
    /// The cache to keep for the next listing.
    pub cache: ReleaseCache,
    /// Pages GitHub sent in full (the others were 304 Not Modified).
    pub pages_fetched: usize,
}

pub struct GithubSource {
    client: reqwest::Client,
    config: GithubConfig,
}

enum PageAnswer {
    Fresh {
        etag: Option<String>,
        next: Option<String>,
        body: String,
    },
    NotModified,
}

impl GithubSource {
    pub fn new(config: GithubConfig) -> Result<Self, SourceError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("runner-mirror/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| SourceError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(GithubSource { client, config })
    }

    /// Lists every release, following `Link: rel="next"`; pages unchanged since `cache` are
    /// taken from it (GitHub answers 304 and does not count them against the rate limit).
    pub async fn releases(&self, cache: Option<&ReleaseCache>) -> Result<Listing, SourceError> {
        let mut next = Some(self.config.releases_url());
        let mut pages = Vec::new();
        let mut pages_fetched = 0;
        while let Some(url) = next.take() {
            if pages.len() == MAX_PAGES {
                return Err(SourceError::Protocol(format!(
                    "GitHub listed more than {MAX_PAGES} pages of releases; stopped at {url}"
                )));
            }
            let cached = cache.and_then(|c| c.page(&url));
            let page = match self.get_page(&url, cached.map(|p| p.etag.as_str())).await? {
                PageAnswer::NotModified => cached
                    .ok_or_else(|| {
                        SourceError::Protocol(format!(
                            "{url} answered 304 to a request without If-None-Match"
                        ))
                    })?
                    .clone(),
                PageAnswer::Fresh { etag, next, body } => {
                    pages_fetched += 1;
                    let list =
                        policy::parse_github_json(&body).map_err(|cause| SourceError::Parse {
                            url: url.clone(),
                            cause,
                        })?;
                    CachedPage {
                        url: url.clone(),
                        etag: etag.unwrap_or_default(),
                        next: next.map(|n| self.same_origin(&url, n)).transpose()?,
                        releases: list.releases().to_vec(),
                        skipped: list.skipped().to_vec(),
                    }
                }
            };
            next = page.next.clone();
            pages.push(page);
        }
        let releases = ReleaseList::new(
            pages
                .iter()
                .flat_map(|p| p.releases.iter().cloned())
                .collect(),
            pages
                .iter()
                .flat_map(|p| p.skipped.iter().cloned())
                .collect(),
        );
        Ok(Listing {
            releases,
            cache: ReleaseCache { pages },
            pages_fetched,
        })
    }

    /// The token goes with every listing request, so a `next` link may only lead to the API's
    /// own origin.
    fn same_origin(&self, from: &str, next: String) -> Result<String, SourceError> {
        let parsed = Url::parse(&next).ok();
        match parsed {
            Some(u) if u.origin() == self.config.api.origin() => Ok(next),
            _ => Err(SourceError::Protocol(format!(
                "{from} links to a next page outside the API ({next}); not followed"
            ))),
        }
    }

    async fn get_page(&self, url: &str, etag: Option<&str>) -> Result<PageAnswer, SourceError> {
        let response = self
            .send_with_retries(url, || {
                let mut request = self
                    .client
                    .get(url)
                    .timeout(Duration::from_secs(30))
                    .header(header::ACCEPT, "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", API_VERSION);
                if let Some(Token(secret)) = &self.config.token {
                    request = request.bearer_auth(secret);
                }
                if let Some(etag) = etag {
                    request = request.header(header::IF_NONE_MATCH, etag);
                }
                request
            })
            .await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(PageAnswer::NotModified);
        }
        let headers = response.headers();
        let etag = header_text(headers, header::ETAG.as_str());
        let next = headers
            .get_all(header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link);
        let body = response
            .text()
            .await
            .map_err(|cause| SourceError::Transport {
                url: url.to_owned(),
                attempts: 1,
                cause,
            })?;
        Ok(PageAnswer::Fresh { etag, next, body })
    }

    /// Sends a request, retrying server errors and transport failures with exponential
    /// backoff; a rate limit or another client error is final at once.
    async fn send_with_retries(
        &self,
        url: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SourceError> {
        let mut wait = self.config.backoff;
        let mut attempt = 1;
        loop {
            let outcome = request().send().await;
            let retryable = match &outcome {
                Ok(r) => r.status().is_server_error(),
                Err(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            };
            if !retryable || attempt >= self.config.attempts {
                return match outcome {
                    Ok(response) => check_status(url, response, attempt).await,
                    Err(cause) => Err(SourceError::Transport {
                        url: url.to_owned(),
                        attempts: attempt,
                        cause: cause.without_url(),
                    }),
                };
            }
            tracing::warn!(url, attempt, "GitHub request failed; retrying");
            tokio::time::sleep(wait).await;
            wait *= 2;
            attempt += 1;
        }
    }

    /// Streams a release asset. The stream fails, before it ends, unless the bytes have the
    /// artifact's size and SHA-256 (see [`crate::verify`]).
    pub async fn download(&self, artifact: &Artifact) -> Result<ByteStream, SourceError> {
        let url = &artifact.download_url;
        let response = self.send_with_retries(url, || self.client.get(url)).await?;
        let stream = response.bytes_stream().map_err(std::io::Error::other);
        Ok(verified(Box::pin(stream), artifact.size, artifact.sha256))
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `rel="next"` target of a `Link` header: `<https://…?page=2>; rel="next", <…>; rel="last"`.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

async fn check_status(
    url: &str,
    response: reqwest::Response,
    attempts: u32,
) -> Result<reqwest::Response, SourceError> {
    let status = response.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(response);
    }
    let headers = response.headers();
    let remaining = header_text(headers, "x-ratelimit-remaining");
    let retry_after =
        header_text(headers, header::RETRY_AFTER.as_str()).and_then(|s| s.parse().ok());
    let limited = matches!(
        status,
        StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    ) && (remaining.as_deref() == Some("0") || retry_after.is_some());
    if limited {
        let resets_at = header_text(headers, "x-ratelimit-reset")
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single());
        return Err(SourceError::RateLimited {
            url: url.to_owned(),
            status,
            resets_at,
            retry_after,
        });
    }
    // GitHub explains errors in a JSON `message`; show it, cut short, never the whole body.
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    Err(SourceError::Status {
        url: url.to_owned(),
        status,
        attempts,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let header = r#"<https://api.github.com/repositories/1/releases?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/releases?per_page=100&page=3>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/releases?per_page=100&page=2")
        );
        let last_page =
            r#"<https://x/releases?page=1>; rel="first", <https://x/releases?page=2>; rel="prev""#;
        assert_eq!(next_link(last_page), None);
    }

    #[test]
    fn config_validation() {
        assert!(GithubConfig::new("https://api.github.com", "actions/runner", None).is_ok());
        assert!(GithubConfig::new("https://ghe.example.com/api/v3/", "org/runner", None).is_ok());
        for (api, repo) in [
            ("ftp://x", "a/b"),
            ("not a url", "a/b"),
            ("https://api.github.com", "actions"),
            ("https://api.github.com", "actions/runner/extra"),
            ("https://api.github.com", "../runner"),
        ] {
            assert!(GithubConfig::new(api, repo, None).is_err(), "{api} {repo}");
        }
        let config =
            GithubConfig::new("https://ghe.example.com/api/v3/", "org/runner", None).unwrap();
        assert_eq!(
            config.releases_url(),
            "https://ghe.example.com/api/v3/repos/org/runner/releases?per_page=100"
        );
    }

    #[test]
    fn tokens_never_print() {
        let token = Token::new("ghp_secret".into()).unwrap();
        assert_eq!(format!("{token:?}"), "Token(***)");
        let config = GithubConfig::new(DEFAULT_API, DEFAULT_REPO, Some(token)).unwrap();
        assert!(!format!("{config:?}").contains("ghp_secret"));
        assert!(Token::new("  ".into()).is_none());
    }
}

//! The function's configuration, read once at cold start: the environment in two layers (what
//! is set, then what it means), the GitHub token from SSM or Secrets Manager, the stores.

use aws_config::SdkConfig;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::RequestId;
use mirror::{
    ChannelName, GithubConfig, GithubSource, SourceError, StoreError, Token, DEFAULT_API,
    DEFAULT_REPO,
};

pub const TABLE: &str = "RUNNER_MIRROR_TABLE";
pub const BUCKET: &str = "RUNNER_MIRROR_BUCKET";
pub const CHANNELS: &str = "RUNNER_MIRROR_CHANNELS";
pub const CHANNEL_COPIES: &str = "RUNNER_MIRROR_CHANNEL_COPIES";
pub const API_URL: &str = "GITHUB_API_URL";
pub const REPO: &str = "RUNNER_MIRROR_REPO";
pub const TOKEN_PARAMETER: &str = "GITHUB_TOKEN_PARAMETER";
pub const TOKEN_SECRET: &str = "GITHUB_TOKEN_SECRET";

/// A configuration the function cannot start with. Each names the variable (and, for the
/// token, the parameter or secret) that is wrong; none ever contains the token.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} is not set: {what}")]
    Missing {
        variable: &'static str,
        what: &'static str,
    },
    #[error("{variable}={value:?}: {problem}")]
    Invalid {
        variable: &'static str,
        value: String,
        problem: String,
    },
    #[error("{variable}: {cause}")]
    Github {
        variable: &'static str,
        cause: SourceError,
    },
    #[error("{TOKEN_PARAMETER} and {TOKEN_SECRET} are both set; set at most one")]
    TwoTokenSources,
    #[error("{variable}: cannot read the GitHub token from {place}: {cause}")]
    TokenUnreadable {
        variable: &'static str,
        place: String,
        cause: String,
    },
    #[error("{variable}: {place} holds no GitHub token (it is empty)")]
    TokenEmpty {
        variable: &'static str,
        place: String,
    },
    #[error("opening the stores named by {TABLE} and {BUCKET}: {cause}")]
    Stores { cause: StoreError },
    #[error("{cause}")]
    HttpClient { cause: SourceError },
}

/// Where the GitHub token is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// An SSM parameter (a SecureString), read with decryption.
    Parameter(String),
    /// A Secrets Manager secret id (name or ARN); its `SecretString` is the token.
    Secret(String),
}

impl TokenSource {
    fn variable(&self) -> &'static str {
        match self {
            TokenSource::Parameter(_) => TOKEN_PARAMETER,
            TokenSource::Secret(_) => TOKEN_SECRET,
        }
    }

    fn place(&self) -> String {
        match self {
            TokenSource::Parameter(name) => format!("SSM parameter {name}"),
            TokenSource::Secret(id) => format!("Secrets Manager secret {id}"),
        }
    }

    /// Reads the token, once. Errors name the parameter or secret, never its value.
    pub async fn fetch(&self, sdk: &SdkConfig) -> Result<Token, ConfigError> {
        let unreadable = |cause: String| ConfigError::TokenUnreadable {
            variable: self.variable(),
            place: self.place(),
            cause,
        };
        let value = match self {
            TokenSource::Parameter(name) => aws_sdk_ssm::Client::new(sdk)
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| unreadable(sdk_error_text(&e)))?
                .parameter
                .and_then(|p| p.value),
            TokenSource::Secret(id) => {
                let secret = aws_sdk_secretsmanager::Client::new(sdk)
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| unreadable(sdk_error_text(&e)))?;
                if secret.secret_string.is_none() && secret.secret_binary.is_some() {
                    return Err(unreadable(
                        "the secret is binary; store the token as its SecretString".to_owned(),
                    ));
                }
                secret.secret_string
            }
        };
        value
            .and_then(Token::new)
            .ok_or_else(|| ConfigError::TokenEmpty {
                variable: self.variable(),
                place: self.place(),
            })
    }
}

/// An SDK error as one line: the service's code and message with the request id, or the
/// whole error chain for a failure to reach the service.
fn sdk_error_text<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let request_id = error
                .request_id()
                .map(|id| format!(" (request id {id})"))
                .unwrap_or_default();
            format!(
                "{}: {}{request_id}",
                e.code().unwrap_or("ServiceError"),
                e.message().map_or_else(|| e.to_string(), str::to_owned)
            )
        }
        other => DisplayErrorContext(other).to_string(),
    }
}

/// The environment, validated: everything but the token's value and the opened stores.
#[derive(Clone, Debug)]
pub struct Settings {
    pub table: String,
    pub bucket: String,
    pub channels: Vec<ChannelName>,
    pub channel_copies: bool,
    /// The GitHub API and repository, not yet with the token.
    pub github: GithubConfig,
    pub token: Option<TokenSource>,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// The GitHub source of these settings, with the token fetched from [`Settings::token`].
    pub fn source(&self, token: Option<Token>) -> Result<GithubSource, ConfigError> {
        let config = GithubConfig {
            token,
            ..self.github.clone()
        };
        GithubSource::new(config).map_err(|cause| ConfigError::HttpClient { cause })
    }

    /// Reads the settings through `var`, which looks a variable up (the process environment in
    /// the function; a table in tests). A variable set to blanks counts as unset, the way
    /// templates pass "no value".
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let table = get(TABLE).ok_or(ConfigError::Missing {
            variable: TABLE,
            what: "the DynamoDB table of channel config, state and decision log",
        })?;
        let bucket = get(BUCKET).ok_or(ConfigError::Missing {
            variable: BUCKET,
            what: "the S3 bucket of the mirrored artifacts",
        })?;
        let channels = match get(CHANNELS) {
            None => vec![ChannelName::default()],
            Some(list) => parse_channels(&list)?,
        };
        let channel_copies = match get(CHANNEL_COPIES) {
            None => false,
            Some(value) => parse_bool(CHANNEL_COPIES, &value)?,
        };
        let api = get(API_URL).unwrap_or_else(|| DEFAULT_API.to_owned());
        let repo = get(REPO).unwrap_or_else(|| DEFAULT_REPO.to_owned());
        let github = GithubConfig::new(&api, &repo, None).map_err(|cause| {
            // The source checks both at once; tell which one it refused.
            let variable = if GithubConfig::new(&api, DEFAULT_REPO, None).is_err() {
                API_URL
            } else {
                REPO
            };
            ConfigError::Github { variable, cause }
        })?;
        let token = match (get(TOKEN_PARAMETER), get(TOKEN_SECRET)) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoTokenSources),
            (Some(name), None) => Some(TokenSource::Parameter(name)),
            (None, Some(id)) => Some(TokenSource::Secret(id)),
            (None, None) => None,
        };
        Ok(Settings {
            table,
            bucket,
            channels,
            channel_copies,
            github,
            token,
        })
    }
}

fn parse_channels(list: &str) -> Result<Vec<ChannelName>, ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        variable: CHANNELS,
        value: list.to_owned(),
        problem,
    };
    let mut channels: Vec<ChannelName> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let channel: ChannelName = name.parse().map_err(|e| invalid(format!("{e}")))?;
        if channels.contains(&channel) {
            return Err(invalid(format!("channel {channel} is listed twice")));
        }
        channels.push(channel);
    }
    if channels.is_empty() {
        return Err(invalid(
            "names no channel (a comma-separated list, e.g. stable,canary)".to_owned(),
        ));
    }
    Ok(channels)
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::Invalid {
            variable,
            value: value.to_owned(),
            problem: "expected true or false".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned()).map_err(|e| e.to_string())
    }

    const STORES: [(&str, &str); 2] = [
        (TABLE, "runner-mirror"),
        (BUCKET, "runner-mirror-artifacts"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        STORES.iter().chain(extra).copied().collect()
    }

    #[test]
    fn defaults() {
        let s = settings(&STORES).unwrap();
        assert_eq!(s.table, "runner-mirror");
        assert_eq!(s.bucket, "runner-mirror-artifacts");
        assert_eq!(s.channels, vec![ChannelName::default()]);
        assert!(!s.channel_copies);
        assert_eq!(s.github.api.as_str(), "https://api.github.com/");
        assert_eq!(s.github.repo, "actions/runner");
        assert!(s.github.token.is_none());
        assert_eq!(s.token, None);
    }

    #[test]
    fn everything_set() {
        let s = settings(&with(&[
            (CHANNELS, " stable , canary,"),
            (CHANNEL_COPIES, "TRUE"),
            (API_URL, "https://ghes.example.com/api/v3"),
            (REPO, "my-org/runner"),
            (TOKEN_SECRET, "runner-mirror/github-token"),
        ]))
        .unwrap();
        let names: Vec<&str> = s.channels.iter().map(ChannelName::as_str).collect();
        assert_eq!(names, ["stable", "canary"]);
        assert!(s.channel_copies);
        assert_eq!(s.github.api.as_str(), "https://ghes.example.com/api/v3");
        assert_eq!(s.github.repo, "my-org/runner");
        assert_eq!(
            s.token,
            Some(TokenSource::Secret("runner-mirror/github-token".into()))
        );
        let s = settings(&with(&[(TOKEN_PARAMETER, "/runner-mirror/token")])).unwrap();
        assert_eq!(
            s.token,
            Some(TokenSource::Parameter("/runner-mirror/token".into()))
        );
    }

    #[test]
    fn blank_means_unset() {
        let s = settings(&with(&[(TOKEN_PARAMETER, ""), (CHANNELS, " "), (REPO, "")])).unwrap();
        assert_eq!(s.token, None);
        assert_eq!(s.channels, vec![ChannelName::default()]);
        assert_eq!(s.github.repo, "actions/runner");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: [(Vec<(&str, &str)>, &str); 8] = [
            (vec![(BUCKET, "b")], "RUNNER_MIRROR_TABLE is not set: "),
            (vec![(TABLE, "t")], "RUNNER_MIRROR_BUCKET is not set: "),
            (
                with(&[(CHANNELS, "stable,Canary")]),
                "RUNNER_MIRROR_CHANNELS=\"stable,Canary\": `Canary` is not a channel name",
            ),
            (
                with(&[(CHANNELS, "stable,stable")]),
                "RUNNER_MIRROR_CHANNELS=\"stable,stable\": channel stable is listed twice",
            ),
            (
                with(&[(CHANNELS, ",")]),
                "RUNNER_MIRROR_CHANNELS=\",\": names no channel",
            ),
            (
                with(&[(CHANNEL_COPIES, "yes")]),
                "RUNNER_MIRROR_CHANNEL_COPIES=\"yes\": expected true or false",
            ),
            (
                with(&[(API_URL, "api.github.com")]),
                "GITHUB_API_URL: GitHub API URL \"api.github.com\" is not an http(s) URL",
            ),
            (
                with(&[(REPO, "runner")]),
                "RUNNER_MIRROR_REPO: repository \"runner\" is not OWNER/NAME",
            ),
        ];
        for (vars, expected) in cases {
            let err = settings(&vars).unwrap_err();
            assert!(
                err.starts_with(expected),
                "{expected:?} is not the start of {err:?}"
            );
        }
        let err = settings(&with(&[(TOKEN_PARAMETER, "/a"), (TOKEN_SECRET, "b")])).unwrap_err();
        assert_eq!(
            err,
            "GITHUB_TOKEN_PARAMETER and GITHUB_TOKEN_SECRET are both set; set at most one"
        );
    }

    #[test]
    fn token_errors_name_the_place_not_the_value() {
        let err = ConfigError::TokenEmpty {
            variable: TOKEN_PARAMETER,
            place: TokenSource::Parameter("/runner-mirror/token".into()).place(),
        };
        assert_eq!(
            err.to_string(),
            "GITHUB_TOKEN_PARAMETER: SSM parameter /runner-mirror/token holds no GitHub token (it is empty)"
        );
    }
}

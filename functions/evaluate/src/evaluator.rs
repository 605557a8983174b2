//! The handler: an invocation in, each channel evaluated (or previewed), a report out, with a
//! log line and a metrics line per channel.

use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use mirror::{ArtifactKey, ChannelName, EvaluateError, GithubSource, Mirror, Stores, Token};
use policy::{rfc3339, DecisionRecord};
use serde::Serialize;
use serde_json::Value;

use crate::config::{ConfigError, Settings, CHANNELS};
use crate::invocation::{Invocation, InvocationError};
use crate::metrics::{emf_line, ChannelMetrics};

/// Evaluates the configured channels of one deployment: the GitHub source, the stores, and the
/// channels the schedule covers. Built once per cold start; every invocation reuses it.
pub struct Evaluator {
    source: GithubSource,
    stores: Stores,
    channels: Vec<ChannelName>,
    channel_copies: bool,
}

/// What one invocation decided, the function's response.
#[derive(Debug, Serialize)]
pub struct Report {
    pub decisions: Vec<ChannelDecision>,
}

#[derive(Debug, Serialize)]
pub struct ChannelDecision {
    pub channel: ChannelName,
    pub dry_run: bool,
    pub decision: DecisionRecord,
    /// The artifacts this evaluation copied; always empty for a dry run.
    pub copied: Vec<ArtifactKey>,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("{0}")]
    Invocation(InvocationError),
    #[error("channel {channel} is not one this function evaluates ({CHANNELS} is {})", list(.configured))]
    UnknownChannel {
        channel: ChannelName,
        configured: Vec<ChannelName>,
    },
    /// Some channels failed; each failure is in its decision log and state already, and each
    /// channel keeps its approved version.
    #[error("{} of {total} channels failed, their approved versions stay: {}", .failures.len(), failures_text(.failures))]
    Failed {
        total: usize,
        failures: Vec<EvaluateError>,
    },
}

/// What Lambda reports of a failed invocation: an `errorType` an alarm or a person can tell
/// apart (rather than the Rust type's name), and the message.
impl From<HandleError> for Diagnostic {
    fn from(error: HandleError) -> Diagnostic {
        let error_type = match &error {
            HandleError::Invocation(_) => "InvalidInvocation",
            HandleError::UnknownChannel { .. } => "UnknownChannel",
            HandleError::Failed { .. } => "EvaluationFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

fn list(channels: &[ChannelName]) -> String {
    channels
        .iter()
        .map(ChannelName::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn failures_text(failures: &[EvaluateError]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Evaluator {
    pub fn new(
        source: GithubSource,
        stores: Stores,
        channels: Vec<ChannelName>,
        channel_copies: bool,
    ) -> Evaluator {
        Evaluator {
            source,
            stores,
            channels,
            channel_copies,
        }
    }

    /// The evaluator the environment describes (see [`Settings`]), on DynamoDB and S3, with the
    /// GitHub token fetched once from SSM or Secrets Manager.
    pub async fn from_env() -> Result<Evaluator, ConfigError> {
        let settings = Settings::from_env()?;
        let sdk = mirror::sdk_config().await;
        let token: Option<Token> = match &settings.token {
            Some(place) => Some(place.fetch(&sdk).await?),
            None => None,
        };
        let source = settings.source(token)?;
        let stores = Stores::aws(&settings.table, &settings.bucket)
            .await
            .map_err(|cause| ConfigError::Stores { cause })?;
        tracing::info!(
            stores = %stores.name,
            channels = %list(&settings.channels),
            channel_copies = settings.channel_copies,
            github = %settings.github.api,
            repo = %settings.github.repo,
            token = settings.token.is_some(),
            "configured"
        );
        Ok(Evaluator::new(
            source,
            stores,
            settings.channels,
            settings.channel_copies,
        ))
    }

    pub fn channels(&self) -> &[ChannelName] {
        &self.channels
    }

    /// The Lambda handler: reads the invocation from the event and runs it. The response is
    /// the [`Report`] as JSON; any failed channel makes the invocation fail.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Report, HandleError> {
        let invocation =
            Invocation::from_payload(&event.payload).map_err(HandleError::Invocation)?;
        self.run(&invocation).await
    }

    /// Evaluates (or, for a dry run, previews) the channels the invocation names, every one
    /// even when some fail.
    pub async fn run(&self, invocation: &Invocation) -> Result<Report, HandleError> {
        let channels = match invocation.channel() {
            None => self.channels.clone(),
            Some(channel) if self.channels.contains(channel) => vec![channel.clone()],
            Some(channel) => {
                return Err(HandleError::UnknownChannel {
                    channel: channel.clone(),
                    configured: self.channels.clone(),
                })
            }
        };
        let now = invocation.now().unwrap_or_else(Utc::now);
        let dry_run = invocation.dry_run();
        tracing::info!(?invocation, now = %rfc3339(&now), "invoked");
        let mut decisions = Vec::new();
        let mut failures = Vec::new();
        for channel in &channels {
            match self.channel(channel, now, dry_run).await {
                Ok(decision) => decisions.push(decision),
                Err(error) => failures.push(error),
            }
        }
        if failures.is_empty() {
            Ok(Report { decisions })
        } else {
            Err(HandleError::Failed {
                total: channels.len(),
                failures,
            })
        }
    }

    fn mirror(&self) -> Mirror<'_> {
        Mirror {
            source: &self.source,
            state: self.stores.state.as_ref(),
            artifacts: self.stores.artifacts.as_ref(),
            channel_copies: self.channel_copies,
        }
    }

    /// One channel: decide, log the summary, and (unless a dry run) print its metrics.
    async fn channel(
        &self,
        channel: &ChannelName,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<ChannelDecision, EvaluateError> {
        let result = if dry_run {
            self.mirror()
                .preview(channel, now)
                .await
                .map(|decision| ChannelDecision {
                    channel: channel.clone(),
                    dry_run,
                    decision,
                    copied: Vec::new(),
                })
        } else {
            self.mirror()
                .evaluate(channel, now)
                .await
                .map(|evaluated| ChannelDecision {
                    channel: channel.clone(),
                    dry_run,
                    decision: evaluated.record,
                    copied: evaluated.copied,
                })
        };
        match &result {
            Ok(decided) => {
                log_decision(decided);
                if !dry_run {
                    let metrics = ChannelMetrics::decided(channel, &decided.decision, now);
                    println!("{}", emf_line(&metrics, Utc::now()));
                }
            }
            Err(error) => {
                // The approved version stays; its cutoff and age are still worth reporting.
                let served = match self.stores.state.state(channel).await {
                    Ok(state) => state.last_decision,
                    Err(e) => {
                        tracing::warn!(%channel, error = %e, "cannot read the state for the metrics");
                        None
                    }
                };
                tracing::error!(
                    %channel,
                    dry_run,
                    approved = served.as_ref().and_then(|r| r.served()).map(tracing::field::display),
                    error = %error,
                    "channel failed; its approved version stays"
                );
                if !dry_run {
                    let metrics = ChannelMetrics::failed(channel, served.as_ref(), now);
                    println!("{}", emf_line(&metrics, Utc::now()));
                }
            }
        }
        result
    }
}

/// The one line that says what a channel's evaluation decided.
fn log_decision(decided: &ChannelDecision) {
    let record = &decided.decision;
    let relaxed: Vec<&str> = record.relaxed().map(|r| r.name()).collect();
    let time = |t: Option<DateTime<Utc>>| t.map(|t| rfc3339(&t));
    let copied: Vec<String> = decided.copied.iter().map(ToString::to_string).collect();
    let version = record.outcome.version().map(tracing::field::display);
    let previous = record.previous.as_ref().map(tracing::field::display);
    let failure = match &record.outcome {
        policy::Outcome::Failed { error } => Some(error.to_string()),
        policy::Outcome::Chosen { .. } => None,
    };
    tracing::info!(
        channel = %decided.channel,
        dry_run = decided.dry_run,
        version,
        previous,
        changed = record.changed,
        relaxed = %relaxed.join(","),
        cutoff = time(record.cutoff),
        next_change = time(record.next_change),
        copied = %copied.join(","),
        failure,
        "decided"
    );
}

//! The evaluate use case: list releases, decide, copy the chosen release's artifacts (each
//! verified as it streams), then commit the new state and log the decision.
//!
//! Nothing is lost on failure: the state is only replaced after every artifact of the chosen
//! version is in the store, and a failure only records itself (`last_failure`, the log).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use policy::{decide, AssetCheck, DecisionRecord, Outcome, Platform, ReleaseList, Version};

use crate::github::{GithubSource, SourceError};
use crate::names::{ArtifactKey, ChannelName};
use crate::state::{Approved, ChannelState, Failure, LogEntry, StoredArtifact};
use crate::store::{ArtifactStore, StateStore, StoreError};

/// What an evaluation needs: where releases come from and where everything goes.
pub struct Mirror<'a> {
    pub source: &'a GithubSource,
    pub state: &'a dyn StateStore,
    pub artifacts: &'a dyn ArtifactStore,
    /// Also keep a copy of each approved artifact at `channels/<channel>/<asset>`.
    pub channel_copies: bool,
}

/// A decision with what it was made from.
struct Decided {
    record: DecisionRecord,
    releases: ReleaseList,
    platforms: Vec<Platform>,
    pages_fetched: usize,
}

/// A successful evaluation.
#[derive(Debug)]
pub struct Evaluated {
    pub channel: ChannelName,
    pub record: DecisionRecord,
    pub state: ChannelState,
    /// The artifacts this evaluation copied; empty when the store already had them all.
    pub copied: Vec<ArtifactKey>,
    /// Listing pages GitHub sent in full; 0 when the whole listing was unchanged (304s).
    pub pages_fetched: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("channel {channel}: {cause}")]
    Store {
        channel: ChannelName,
        cause: StoreError,
    },
    #[error("channel {channel}: listing releases: {cause}")]
    Source {
        channel: ChannelName,
        cause: SourceError,
    },
    #[error("channel {channel}: {}", decision_failure(.record))]
    Decision {
        channel: ChannelName,
        record: Box<DecisionRecord>,
    },
    #[error("channel {channel}: version {version} has no verifiable {platform} artifact (it is no longer listed and the store has none)")]
    NoArtifact {
        channel: ChannelName,
        version: Version,
        platform: Platform,
    },
    #[error("channel {channel}: copying {key}: {cause}")]
    Download {
        channel: ChannelName,
        key: ArtifactKey,
        cause: SourceError,
    },
    #[error("channel {channel}: copying {key}: {cause}")]
    Copy {
        channel: ChannelName,
        key: ArtifactKey,
        cause: StoreError,
    },
}

fn decision_failure(record: &DecisionRecord) -> String {
    match &record.outcome {
        Outcome::Failed { error } => error.to_string(),
        Outcome::Chosen { .. } => "decided".to_owned(),
    }
}

impl EvaluateError {
    fn store(channel: &ChannelName) -> impl Fn(StoreError) -> EvaluateError + Copy + '_ {
        move |cause| EvaluateError::Store {
            channel: channel.clone(),
            cause,
        }
    }

    /// The decision record, when the policy got as far as deciding.
    pub fn record(&self) -> Option<&DecisionRecord> {
        match self {
            EvaluateError::Decision { record, .. } => Some(record),
            _ => None,
        }
    }
}

impl Mirror<'_> {
    /// Evaluates one channel at `now` and mirrors its choice.
    pub async fn evaluate(
        &self,
        channel: &ChannelName,
        now: DateTime<Utc>,
    ) -> Result<Evaluated, EvaluateError> {
        let store_error = EvaluateError::store(channel);
        let current = self.state.state(channel).await.map_err(store_error)?;
        let result = self.evaluate_from(channel, &current, now).await;
        match &result {
            Ok(done) if done.record.changed => {
                let entry = LogEntry {
                    channel: channel.clone(),
                    at: now,
                    decision: Some(done.record.clone()),
                    error: None,
                    change: None,
                };
                self.state.append_log(&entry).await.map_err(store_error)?;
            }
            Ok(_) => {}
            Err(error) => self.record_failure(channel, &current, now, error).await,
        }
        result
    }

    /// What `evaluate` would decide now, without copying or committing anything (a dry run).
    pub async fn preview(
        &self,
        channel: &ChannelName,
        now: DateTime<Utc>,
    ) -> Result<DecisionRecord, EvaluateError> {
        let current = self
            .state
            .state(channel)
            .await
            .map_err(EvaluateError::store(channel))?;
        let decided = self.decide_now(channel, &current, now).await?;
        Ok(decided.record)
    }

    /// Lists the releases (refreshing the listing cache) and decides with the channel's config.
    async fn decide_now(
        &self,
        channel: &ChannelName,
        current: &ChannelState,
        now: DateTime<Utc>,
    ) -> Result<Decided, EvaluateError> {
        let store_error = EvaluateError::store(channel);
        let config = self.state.config(channel).await.map_err(store_error)?;
        let cache = match self.state.release_cache().await {
            Ok(cache) => cache,
            Err(e) => {
                // A cache is only an optimisation: list everything again.
                tracing::warn!(error = %e, "ignoring the release cache");
                None
            }
        };
        let listing = self
            .source
            .releases(cache.as_ref())
            .await
            .map_err(|cause| EvaluateError::Source {
                channel: channel.clone(),
                cause,
            })?;
        if listing.pages_fetched > 0 {
            self.state
                .save_release_cache(&listing.cache)
                .await
                .map_err(store_error)?;
        }
        let record = decide(&policy::Evaluation {
            releases: &listing.releases,
            now,
            previous: current.approved.as_ref().map(|a| &a.version),
            config: &config,
            assets: AssetCheck::Required,
        });
        Ok(Decided {
            record,
            releases: listing.releases,
            platforms: config.policy.platforms().to_vec(),
            pages_fetched: listing.pages_fetched,
        })
    }

    async fn evaluate_from(
        &self,
        channel: &ChannelName,
        current: &ChannelState,
        now: DateTime<Utc>,
    ) -> Result<Evaluated, EvaluateError> {
        let store_error = EvaluateError::store(channel);
        let Decided {
            record,
            releases,
            platforms,
            pages_fetched,
        } = self.decide_now(channel, current, now).await?;
        let approved = current.approved.as_ref();
        let Outcome::Chosen { version, .. } = &record.outcome else {
            return Err(EvaluateError::Decision {
                channel: channel.clone(),
                record: Box::new(record),
            });
        };
        let (artifacts, copied) = self
            .copy_artifacts(channel, version, &platforms, &releases, approved)
            .await?;
        let approved_at = match approved {
            Some(a) if &a.version == version => a.approved_at,
            _ => now,
        };
        let state = ChannelState {
            revision: current.revision + 1,
            approved: Some(Approved {
                version: version.clone(),
                approved_at,
                artifacts,
            }),
            last_decision: Some(record.clone()),
            last_failure: None,
        };
        self.state
            .commit(channel, &state)
            .await
            .map_err(store_error)?;
        // Only after the commit: a fixed key never runs ahead of the approved version.
        if self.channel_copies {
            for artifact in state.approved.iter().flat_map(|a| a.artifacts.values()) {
                self.artifacts
                    .copy_to_channel(channel, &artifact.key)
                    .await
                    .map_err(|cause| EvaluateError::Copy {
                        channel: channel.clone(),
                        key: artifact.key.clone(),
                        cause,
                    })?;
            }
        }
        Ok(Evaluated {
            channel: channel.clone(),
            record,
            state,
            copied,
            pages_fetched,
        })
    }

    /// Makes sure the store holds every platform's artifact of `version`, copying what it
    /// lacks. The platforms are copied side by side, each on a connection of its own, so a
    /// sync takes about as long as its largest download rather than the sum of them; memory is
    /// the store's per-copy bound times the platforms (at most the seven GitHub ships).
    async fn copy_artifacts(
        &self,
        channel: &ChannelName,
        version: &Version,
        platforms: &[Platform],
        releases: &ReleaseList,
        approved: Option<&Approved>,
    ) -> Result<(BTreeMap<Platform, StoredArtifact>, Vec<ArtifactKey>), EvaluateError> {
        // Every copy runs to its end, even after another failed: a store cleans up only a copy
        // that ends (an S3 multipart upload is aborted, a temporary file removed), not one that
        // is dropped halfway.
        let results =
            futures_util::future::join_all(platforms.iter().map(|&platform| {
                self.ensure_artifact(channel, version, platform, releases, approved)
            }))
            .await;
        let mut stored = BTreeMap::new();
        let mut copied = Vec::new();
        for (&platform, result) in platforms.iter().zip(results) {
            let (artifact, was_copied) = result?;
            if was_copied {
                copied.push(artifact.key.clone());
            }
            stored.insert(platform, artifact);
        }
        Ok((stored, copied))
    }

    /// One platform's artifact of `version`, from the release listing or, for a version GitHub
    /// no longer lists (held by a freeze), from what the store already verified; copied into
    /// the store unless it is there already (then `false`).
    async fn ensure_artifact(
        &self,
        channel: &ChannelName,
        version: &Version,
        platform: Platform,
        releases: &ReleaseList,
        approved: Option<&Approved>,
    ) -> Result<(StoredArtifact, bool), EvaluateError> {
        let key = ArtifactKey::new(version.clone(), platform);
        let no_artifact = || EvaluateError::NoArtifact {
            channel: channel.clone(),
            version: version.clone(),
            platform,
        };
        let copy_error = |cause| EvaluateError::Copy {
            channel: channel.clone(),
            key: key.clone(),
            cause,
        };
        let listed = releases
            .get(version)
            .and_then(|r| r.artifact(platform).ok());
        let kept = approved
            .filter(|a| &a.version == version)
            .and_then(|a| a.artifacts.get(&platform));
        let artifact = match (&listed, kept) {
            (Some(a), _) => StoredArtifact {
                key: key.clone(),
                sha256: a.sha256,
                size: a.size,
            },
            (None, Some(kept)) => kept.clone(),
            (None, None) => return Err(no_artifact()),
        };
        if self
            .artifacts
            .has(&key, &artifact.sha256)
            .await
            .map_err(copy_error)?
        {
            return Ok((artifact, false));
        }
        // Only a listed release can be downloaded again.
        let Some(listed) = &listed else {
            return Err(no_artifact());
        };
        tracing::info!(%key, size = listed.size, "copying");
        let started = std::time::Instant::now();
        let body = self
            .source
            .download(listed)
            .await
            .map_err(|cause| EvaluateError::Download {
                channel: channel.clone(),
                key: key.clone(),
                cause,
            })?;
        match self.artifacts.put(&key, listed, body).await {
            Ok(()) => {
                let seconds = started.elapsed().as_secs_f64();
                let mib_per_s = listed.size as f64 / f64::from(1 << 20) / seconds;
                tracing::info!(%key, seconds, mib_per_s, "copied");
                Ok((artifact, true))
            }
            // A concurrent evaluation stored the same file first (EventBridge delivers at
            // least once): that is success, unless the file is a different one.
            Err(StoreError::Occupied { .. })
                if self
                    .artifacts
                    .has(&key, &artifact.sha256)
                    .await
                    .map_err(copy_error)? =>
            {
                Ok((artifact, false))
            }
            Err(e) => Err(copy_error(e)),
        }
    }

    /// Logs a failed evaluation and notes it in the state; the approved version stays. A
    /// failure to record the failure is only logged: the evaluation has failed already.
    async fn record_failure(
        &self,
        channel: &ChannelName,
        current: &ChannelState,
        now: DateTime<Utc>,
        error: &EvaluateError,
    ) {
        let message = error.to_string();
        tracing::error!(%channel, error = %message, "evaluation failed");
        let entry = LogEntry {
            channel: channel.clone(),
            at: now,
            decision: error.record().cloned(),
            error: Some(message.clone()),
            change: None,
        };
        if let Err(e) = self.state.append_log(&entry).await {
            tracing::error!(error = %e, "cannot append the failure to the decision log");
        }
        // After a lost race the winner's state is newer than `current`: nothing to note there.
        if matches!(
            error,
            EvaluateError::Store {
                cause: StoreError::Conflict { .. },
                ..
            }
        ) {
            return;
        }
        let noted = ChannelState {
            revision: current.revision + 1,
            last_failure: Some(Failure {
                at: now,
                error: message,
            }),
            ..current.clone()
        };
        if let Err(e) = self.state.commit(channel, &noted).await {
            tracing::error!(error = %e, "cannot note the failure in the state");
        }
    }
}

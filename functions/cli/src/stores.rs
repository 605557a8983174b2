//! Opening what the command line works on: the store (local directory, or DynamoDB and S3)
//! and the GitHub source.

use std::sync::Arc;

use anyhow::{bail, Context};
use mirror::{
    ArtifactStore, DynamoStore, GithubConfig, GithubSource, LocalStore, S3Store, StateStore, Token,
};

use crate::args::{SourceArgs, StoreArgs};

pub struct Stores {
    pub state: Arc<dyn StateStore>,
    pub artifacts: Arc<dyn ArtifactStore>,
    /// The local store, whose artifacts `serve` streams itself; none on AWS.
    pub local: Option<Arc<LocalStore>>,
    /// Which store this is, for people.
    pub name: String,
}

impl StoreArgs {
    /// The AWS stores when a table and a bucket are given (credentials, region and endpoint
    /// come from the SDK's usual environment), else the local directory.
    pub async fn open(&self) -> anyhow::Result<Stores> {
        match (&self.table, &self.bucket) {
            (None, None) => {
                let local = Arc::new(LocalStore::new(&self.store));
                Ok(Stores {
                    state: local.clone(),
                    artifacts: local.clone(),
                    name: format!("local store {}", self.store.display()),
                    local: Some(local),
                })
            }
            (Some(table), Some(bucket)) => {
                let config = mirror::sdk_config().await;
                let state = DynamoStore::new(&config, table)
                    .await
                    .context("opening the DynamoDB table")?;
                let artifacts = S3Store::new(&config, bucket)
                    .await
                    .context("opening the S3 bucket")?;
                Ok(Stores {
                    state: Arc::new(state),
                    artifacts: Arc::new(artifacts),
                    local: None,
                    name: format!("DynamoDB table {table} and S3 bucket {bucket}"),
                })
            }
            (Some(_), None) | (None, Some(_)) => bail!(
                "--table (RUNNER_MIRROR_TABLE) and --bucket (RUNNER_MIRROR_BUCKET) go together: \
                 set both for the AWS stores, or neither for the local store"
            ),
        }
    }
}

impl SourceArgs {
    pub fn open(&self) -> anyhow::Result<GithubSource> {
        // Read here and handed to the source only, which never prints it.
        let token = std::env::var("GITHUB_TOKEN").ok().and_then(Token::new);
        Ok(GithubSource::new(GithubConfig::new(
            &self.github_api,
            &self.repo,
            token,
        )?)?)
    }
}

//! Opening what the command line works on: the store (local directory, or DynamoDB and S3)
//! and the GitHub source.

use anyhow::bail;
use mirror::{GithubConfig, GithubSource, Stores, Token};

use crate::args::{SourceArgs, StoreArgs};

impl StoreArgs {
    /// The AWS stores when a table and a bucket are given (credentials, region and endpoint
    /// come from the SDK's usual environment), else the local directory.
    pub async fn open(&self) -> anyhow::Result<Stores> {
        match (&self.table, &self.bucket) {
            (None, None) => Ok(Stores::local(&self.store)),
            (Some(table), Some(bucket)) => Ok(Stores::aws(table, bucket).await?),
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

//! The GitHub token, fetched from SSM Parameter Store or Secrets Manager on moto, reaches
//! GitHub's `Authorization` header and no error message.

use aws_config::SdkConfig;
use e2e_tests::fake_github::FakeGithub;
use e2e_tests::moto::{moto, unique_name};
use evaluate::{Settings, TokenSource};

const TOKEN: &str = "ghp_evaluateTestToken0123456789";

/// Settings for the fake GitHub, as the environment would give them.
fn settings(fake: &FakeGithub) -> Settings {
    let api = fake.api_url();
    Settings::from_vars(|name| match name {
        "RUNNER_MIRROR_TABLE" => Some("table".to_owned()),
        "RUNNER_MIRROR_BUCKET" => Some("bucket".to_owned()),
        "GITHUB_API_URL" => Some(api.clone()),
        _ => None,
    })
    .unwrap()
}

/// Lists the fake's releases with the token fetched from `place`, and returns the
/// `Authorization` header GitHub saw.
async fn authorization_sent(sdk: &SdkConfig, place: TokenSource) -> Option<String> {
    let fake = FakeGithub::start(FakeGithub::history());
    let token = place.fetch(sdk).await.unwrap();
    assert_eq!(format!("{token:?}"), "Token(***)");
    let source = settings(&fake).source(Some(token)).unwrap();
    source.releases(None).await.unwrap();
    let requests = fake.requests();
    requests[0].header("authorization").map(str::to_owned)
}

#[tokio::test]
async fn the_token_comes_from_an_ssm_secure_string() {
    let sdk = moto().sdk_config().await;
    let name = format!("/{}/github-token", unique_name("evaluate"));
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&name)
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    assert_eq!(
        authorization_sent(&sdk, TokenSource::Parameter(name)).await,
        Some(format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn the_token_comes_from_a_secrets_manager_secret() {
    let sdk = moto().sdk_config().await;
    let id = unique_name("evaluate-github-token");
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&id)
        .secret_string(format!("{TOKEN}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        authorization_sent(&sdk, TokenSource::Secret(id)).await,
        Some(format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn a_missing_token_names_the_parameter_or_secret() {
    let sdk = moto().sdk_config().await;
    let name = format!("/{}/nothing", unique_name("evaluate"));
    let err = TokenSource::Parameter(name.clone())
        .fetch(&sdk)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "GITHUB_TOKEN_PARAMETER: cannot read the GitHub token from SSM parameter {name}: ParameterNotFound"
        )),
        "{err}"
    );
    let id = unique_name("evaluate-nothing");
    let err = TokenSource::Secret(id.clone())
        .fetch(&sdk)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "GITHUB_TOKEN_SECRET: cannot read the GitHub token from Secrets Manager secret {id}: ResourceNotFoundException"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_binary_secret_is_refused_without_showing_it() {
    let sdk = moto().sdk_config().await;
    let id = unique_name("evaluate-binary-token");
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&id)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(
            TOKEN.as_bytes(),
        ))
        .send()
        .await
        .unwrap();
    let err = TokenSource::Secret(id.clone())
        .fetch(&sdk)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("GITHUB_TOKEN_SECRET: cannot read the GitHub token from Secrets Manager secret {id}: the secret is binary; store the token as its SecretString")
    );
    assert!(!err.contains(TOKEN));
}

//! What the DynamoDB and S3 adapters share: the SDK configuration from the environment, and
//! the one place SDK errors become [`StoreError`]s.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::RequestId;

use super::StoreError;

/// The SDK's configuration the way AWS users expect: the default credential and region
/// chains, and the standard `AWS_ENDPOINT_URL` (and per-service) overrides.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Who is calling, as AWS sees it (an IAM ARN), for the record of an operator's change;
/// `None` when AWS cannot tell (no credentials, no network).
pub async fn caller_identity() -> Option<String> {
    let config = sdk_config().await;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .ok()?;
    identity.arn().map(str::to_owned)
}

/// Wraps an SDK error with the operation and resource it concerned and AWS's request id.
pub(crate) fn aws_error<E>(
    operation: &'static str,
    resource: &str,
    error: SdkError<E, HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message, request_id) = match &error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            (
                e.code().unwrap_or("ServiceError").to_owned(),
                e.message().map_or_else(|| e.to_string(), str::to_owned),
                error.request_id().map(str::to_owned),
            )
        }
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), "no answer in time".to_owned(), None),
        SdkError::DispatchFailure(failure) => (
            "DispatchFailure".to_owned(),
            format!(
                "cannot reach the endpoint: {:?}",
                failure.as_connector_error()
            ),
            None,
        ),
        other => (
            "Error".to_owned(),
            format!("{}", aws_sdk_s3::error::DisplayErrorContext(other)),
            None,
        ),
    };
    StoreError::Aws {
        operation,
        resource: resource.to_owned(),
        code,
        message,
        request_id,
    }
}

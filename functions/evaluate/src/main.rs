//! The evaluate Lambda's entry point: tracing, the evaluator from the environment, the runtime.

use evaluate::Evaluator;
use lambda_runtime::{service_fn, Error};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(false)
        .without_time()
        // Stdout carries the metrics lines; the logs go to stderr (CloudWatch gets both).
        .with_writer(std::io::stderr)
        .init();

    let evaluator = Evaluator::from_env()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    lambda_runtime::run(service_fn(|event| evaluator.handle(event))).await
}

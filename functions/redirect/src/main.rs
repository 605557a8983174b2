//! The redirect Lambda's entry point: logging, the handler from the environment, the runtime.

use lambda_http::{run, service_fn, Error};
use redirect::Redirect;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // One JSON object per line, fields at the top level for CloudWatch Logs Insights; no
    // timestamp, since CloudWatch stamps every line.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_span_list(false)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .init();

    let redirect = Redirect::from_env().await.inspect_err(|e| {
        // `main` would print the error's `Debug`; this is the line an operator reads.
        tracing::error!(error = %e, "cannot start");
    })?;
    run(service_fn(|request| redirect.handle(request))).await
}

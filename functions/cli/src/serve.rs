use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mirror::{ArtifactKey, LocalStore, StoreError, ARTIFACT_ROUTE};

use crate::args::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = Arc::new(LocalStore::new(&args.store.store));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    // The first line of stdout says where to go; scripts read it when they asked for port 0.
    println!("listening on http://{address}");
    tracing::info!(%address, store = %store.root().display(), "serving");
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown())
        .await
        .context("the server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// The redirect routes of the `mirror` crate, plus the route their local redirects point to.
pub fn router(store: Arc<LocalStore>) -> Router {
    Router::new()
        .route(&format!("{ARTIFACT_ROUTE}{{*key}}"), get(artifact))
        .fallback(redirect)
        .with_state(store)
}

async fn redirect(State(store): State<Arc<LocalStore>>, method: Method, uri: Uri) -> Response {
    mirror::routes::respond(&method, uri.path(), &*store, &*store)
        .await
        .map(Body::from)
        .into_response()
}

/// Streams an artifact of the store. Only a path that is exactly an artifact key is served, so
/// nothing else in the store directory can be reached.
async fn artifact(State(store): State<Arc<LocalStore>>, Path(key): Path<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such artifact\n").into_response();
    let Some(key) = ArtifactKey::parse(&key) else {
        return not_found();
    };
    match store.open(&key).await {
        Ok((stream, size)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (header::CONTENT_LENGTH, size.to_string()),
            ],
            Body::from_stream(stream),
        )
            .into_response(),
        Err(StoreError::Missing { .. }) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "cannot open an artifact");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM can be handled");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mirror::{
    ArtifactKey, ArtifactStore, CachedState, LocalStore, StoreError, Stores, ARTIFACT_ROUTE,
};

use crate::args::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let stores = args.store.open().await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    // The first line of stdout says where to go; scripts read it when they asked for port 0.
    println!("listening on http://{address}");
    tracing::info!(%address, store = %stores.name, "serving");
    let ttl = Duration::from_secs_f64(args.state_ttl);
    axum::serve(listener, router(stores, ttl))
        .with_graceful_shutdown(shutdown())
        .await
        .context("the server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// What the redirect routes answer from: the state, read through a short cache, and the
/// artifact store.
struct Routes {
    state: CachedState,
    artifacts: Arc<dyn ArtifactStore>,
}

/// The redirect routes of the `mirror` crate, plus, for the local store, the route its
/// redirects point to (on AWS they point to presigned S3 URLs).
fn router(stores: Stores, state_ttl: Duration) -> Router {
    let router = Router::new();
    let router = match &stores.local {
        Some(local) => router.route(
            &format!("{ARTIFACT_ROUTE}{{*key}}"),
            get(artifact).with_state(local.clone()),
        ),
        None => router,
    };
    let routes = Routes {
        state: CachedState::new(stores.state, state_ttl),
        artifacts: stores.artifacts,
    };
    router.fallback(redirect).with_state(Arc::new(routes))
}

async fn redirect(State(routes): State<Arc<Routes>>, method: Method, uri: Uri) -> Response {
    mirror::routes::respond(&method, uri.path(), &routes.state, &*routes.artifacts)
        .await
        .map(Body::from)
        .into_response()
}

/// Streams an artifact of the local store. Only a path that is exactly an artifact key is
/// served, so nothing else in the store directory can be reached.
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

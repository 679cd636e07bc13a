//! A minimal Graph for the memory benchmark: the token endpoint and getAllEnterpriseInteractions
//! with `$skiptoken` paging, each page generated on request by [`LeanGenerator`], so serving
//! millions of records takes no memory. It checks no filter, token or license: the
//! simulator's tests cover those, and this server only has to feed volume.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::pages::LeanGenerator;

struct LeanState {
    generator: LeanGenerator,
    base_url: String,
}

/// Serves `generator` on `listener` until the process ends.
pub async fn serve(generator: LeanGenerator, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let base_url = format!("http://{}", listener.local_addr()?);
    let state = Arc::new(LeanState { generator, base_url });
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/copilot/users/{user}/interactionHistory/getAllEnterpriseInteractions", get(interactions))
        .with_state(state);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn token() -> Response {
    let body = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"lean-bench-token"}"#;
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn interactions(
    State(state): State<Arc<LeanState>>,
    Path(user_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let generator = &state.generator;
    let Some(user) = LeanGenerator::user_index(&user_id).filter(|user| *user < generator.users()) else {
        return (StatusCode::NOT_FOUND, r#"{"error":{"code":"ResourceNotFound","message":"unknown user"}}"#)
            .into_response();
    };
    let page = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("$skiptoken=").or_else(|| pair.strip_prefix("%24skiptoken=")))
        .and_then(|token| token.parse::<usize>().ok())
        .unwrap_or(0);

    let mut body = String::with_capacity(128 * 1024);
    body.push_str(r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.aiInteraction)","value":["#);
    if page < generator.pages_per_user() {
        generator.write_page_records(user, page, &mut body);
    }
    body.push(']');
    if page + 1 < generator.pages_per_user() {
        let next = page + 1;
        body.push_str(&format!(
            r#","@odata.nextLink":"{}/v1.0/copilot/users/{user_id}/interactionHistory/getAllEnterpriseInteractions?$skiptoken={next}""#,
            state.base_url
        ));
    }
    body.push('}');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

//! The HTTP server: routes, request ids, startup and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::auth::{TokenStore, issue_token};
use super::dataset::Dataset;
use super::errors::{GraphError, RequestIdSource, RequestIds};
use super::faults::{FaultCounts, FaultInjector, FaultOptions};
use super::interactions::get_all_enterprise_interactions;
use super::users::list_users;

/// The Graph versions the simulator serves, with the same schema on both.
pub(super) const GRAPH_VERSIONS: [&str; 2] = ["v1.0", "beta"];

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Server settings: the tenant, client id and secret the token endpoint accepts, the lifetime of
/// tokens, and which records arrive late.
#[derive(Clone)]
pub struct ServerOptions {
    /// The only tenant the token endpoint accepts, or `None` to accept any tenant.
    pub tenant_id: Option<String>,
    /// The only client id the token endpoint accepts, or `None` to accept any client id.
    pub client_id: Option<String>,
    /// The only client secret the token endpoint accepts, or `None` to accept any secret.
    pub client_secret: Option<String>,
    /// The lifetime of issued access tokens.
    pub token_ttl: Duration,
    /// Records that appear only some time after their creation; `None` serves every record.
    pub late: Option<super::late::LateRecords>,
    /// Faults injected into Graph requests; the default injects none.
    pub faults: FaultOptions,
    /// The DER certificate whose key must sign client assertions that carry `x5t#S256`;
    /// `None` checks only the assertion's shape.
    pub client_certificate: Option<Vec<u8>>,
}

/// Shows whether a client secret is set, never the secret itself.
impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerOptions")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("token_ttl", &self.token_ttl)
            .field("late", &self.late)
            .field("faults", &self.faults)
            .field("client_certificate", &self.client_certificate.as_ref().map(|der| der.len()))
            .finish()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tenant_id: None,
            client_id: None,
            client_secret: None,
            token_ttl: Duration::from_secs(3600),
            late: None,
            faults: FaultOptions::default(),
            client_certificate: None,
        }
    }
}

/// The state that every handler shares.
pub(super) struct AppState {
    pub dataset: Arc<Dataset>,
    pub options: ServerOptions,
    pub tokens: TokenStore,
    pub request_ids: RequestIdSource,
    /// The listening address, for links when a request has no `Host` header.
    pub addr: SocketAddr,
    pub faults: Arc<FaultInjector>,
}

/// A simulator serving in a background task. Dropping it stops the server too.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    faults: Arc<FaultInjector>,
}

impl RunningSimulator {
    /// Returns `http://IP:PORT`, with 127.0.0.1 in place of an unspecified listening address.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    /// Returns the Graph root that clients put before `/users` and `/copilot/…`.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base_url())
    }

    /// Returns how many faults of each kind were injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.faults.counts()
    }

    /// Stops accepting connections, lets open requests finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(sender) = self.shutdown.take() {
            // An error means the server already stopped, which is the goal.
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => tracing::debug!(addr = %self.addr, "simulator stopped"),
                Ok(Err(error)) => tracing::warn!(addr = %self.addr, %error, "simulator stopped with an error"),
                Err(error) => tracing::warn!(addr = %self.addr, %error, "simulator task failed"),
            }
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// Serves `dataset` on `listener` in a background task until [`RunningSimulator::shutdown`].
pub async fn start(
    dataset: Arc<Dataset>,
    options: ServerOptions,
    listener: TcpListener,
) -> std::io::Result<RunningSimulator> {
    let addr = listener.local_addr()?;
    let faults = FaultInjector::new(options.faults.clone());
    let state = Arc::new(AppState {
        dataset,
        options,
        tokens: TokenStore::default(),
        request_ids: RequestIdSource::default(),
        addr,
        faults: Arc::clone(&faults),
    });
    let (sender, receiver) = oneshot::channel::<()>();
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // A dropped sender also ends the wait, so dropping the handle stops the server.
                let _ = receiver.await;
            })
            .await
    });
    Ok(RunningSimulator { addr, shutdown: Some(sender), task: Some(task), faults })
}

fn router(state: Arc<AppState>) -> Router {
    // Faults hit only the Graph routes; the token endpoint stays reliable.
    let graph = Router::new()
        .route("/{version}/users", get(list_users))
        .route(
            "/{version}/copilot/users/{user}/interactionHistory/getAllEnterpriseInteractions",
            get(get_all_enterprise_interactions),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), super::faults::inject));
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(issue_token))
        .merge(graph)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), assign_request_ids))
        .with_state(state)
}

/// Gives each request a `request-id`, echoes the caller's `client-request-id` (or repeats the
/// request id), and puts both on the response as Graph does.
async fn assign_request_ids(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let request_id = state.request_ids.next_id();
    let client_request_id = request
        .headers()
        .get(&CLIENT_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map_or_else(|| request_id.clone(), str::to_owned);
    let ids = RequestIds { request_id, client_request_id };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    request.extensions_mut().insert(ids.clone());

    let mut response = next.run(request).await;
    tracing::debug!(%method, %path, status = response.status().as_u16(), request_id = %ids.request_id, "request served");
    let headers = response.headers_mut();
    // Both ids came from a header value or a GUID string, so they are valid header values.
    for (name, value) in [(REQUEST_ID, &ids.request_id), (CLIENT_REQUEST_ID, &ids.client_request_id)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

async fn not_found(axum::Extension(ids): axum::Extension<RequestIds>, uri: Uri) -> Response {
    GraphError::segment_not_found(&unmatched_segment(uri.path())).render(&ids)
}

async fn method_not_allowed(axum::Extension(ids): axum::Extension<RequestIds>) -> Response {
    GraphError::method_not_allowed().render(&ids)
}

/// The routes below a Graph version, `*` standing for the user segment.
const GRAPH_ROUTES: [&[&str]; 2] =
    [&["users"], &["copilot", "users", "*", "interactionHistory", "getAllEnterpriseInteractions"]];

/// Returns the first path segment that no route matches, as Graph names it in its 404 message.
pub(super) fn unmatched_segment(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let Some((first, rest)) = segments.split_first() else {
        return String::new();
    };
    if !GRAPH_VERSIONS.contains(first) {
        return (*first).to_owned();
    }
    let matched = GRAPH_ROUTES
        .iter()
        .map(|route| {
            route.iter().zip(rest).take_while(|(expected, actual)| **expected == "*" || expected == actual).count()
        })
        .max()
        .unwrap_or(0);
    // A path that is a prefix of a route names its last segment.
    rest.get(matched).or(segments.last()).map_or_else(String::new, |segment| (*segment).to_owned())
}

/// Returns Graph's 404 unless the version segment is `v1.0` or `beta`.
pub(super) fn check_version(version: &str) -> Result<(), GraphError> {
    if GRAPH_VERSIONS.contains(&version) { Ok(()) } else { Err(GraphError::segment_not_found(version)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_client_secret() {
        let options = ServerOptions { client_secret: Some("hunter2".into()), ..ServerOptions::default() };
        let text = format!("{options:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn unmatched_segment_names_first_mismatch() {
        let cases = [
            ("/v1.0/groups", "groups"),
            ("/beta/copilot/users/u1/interactionHistory/getAll", "getAll"),
            ("/v1.0/copilot/users/u1", "u1"),
            ("/v2.0/users", "v2.0"),
            ("/v1.0/users/u1", "u1"),
            ("/", ""),
        ];
        for (path, segment) in cases {
            assert_eq!(unmatched_segment(path), segment, "{path}");
        }
    }

    #[tokio::test]
    async fn unknown_route_returns_graph_404() {
        let harness = crate::simulate::test_support::Harness::start(Dataset::empty()).await;
        let response = harness.get(&format!("{}/groups", harness.simulator.graph_url())).await;
        let error = crate::simulate::test_support::graph_error(response, reqwest::StatusCode::NOT_FOUND).await;
        assert_eq!(error["code"], "BadRequest");
        assert_eq!(error["message"], "Resource not found for the segment 'groups'.");

        let response =
            harness.http.post(format!("{}/users", harness.simulator.graph_url())).send().await.expect("POST");
        assert_eq!(response.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn success_carries_request_ids() {
        let harness = crate::simulate::test_support::Harness::start(Dataset::empty()).await;
        let response = harness.get(&format!("{}/users", harness.simulator.graph_url())).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let request_id = response.headers()["request-id"].to_str().expect("request-id").to_owned();
        assert_eq!(request_id.len(), 36);
        assert_eq!(response.headers()["client-request-id"], request_id.as_str());
    }

    #[tokio::test]
    async fn shutdown_stops_serving() {
        let harness = crate::simulate::test_support::Harness::start(Dataset::empty()).await;
        let url = format!("{}/users", harness.simulator.graph_url());
        assert!(harness.simulator.base_url().starts_with("http://127.0.0.1:"));
        let crate::simulate::test_support::Harness { simulator, token, .. } = harness;
        simulator.shutdown().await;
        // A new client, because a pooled connection could outlive the listener.
        let result = reqwest::Client::new().get(&url).bearer_auth(token).send().await;
        assert!(result.is_err(), "server still answers after shutdown");
    }
}

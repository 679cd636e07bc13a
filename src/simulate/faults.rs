//! Faults the simulator injects into Graph requests, so clients can be tested against the
//! failures a long export meets: throttling, server errors, dropped connections, truncated
//! bodies, latency and paging that repeats a record.
//!
//! Every random choice except throttling is a hash of the seed, the request's path and query,
//! and how often that exact request was seen, so a run with the same seed and the same requests
//! gets the same faults in any interleaving. Throttling depends on timing by nature.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;

use super::errors::{GraphError, RequestIds};
use super::server::AppState;

/// Which faults to inject. `Default` injects none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOptions {
    /// Seed of the fault choices.
    pub seed: u64,
    /// Graph requests accepted in any one-second window; more get 429 with `Retry-After`.
    pub rate_limit: Option<f64>,
    /// Share of requests answered with 500, 502, 503 or 504 and a Graph error body.
    pub error_rate: f64,
    /// Share of requests whose connection is dropped without a response.
    pub reset_rate: f64,
    /// Share of 200 responses whose body is cut short.
    pub truncate_rate: f64,
    /// Delay before each Graph response, throttling answers excepted.
    pub latency: Duration,
    /// Share of interaction pages whose next link starts one record early, so the next page
    /// repeats the last record, as Graph's mailbox paging does when records shift.
    pub page_shift_rate: f64,
    /// Users (ids or user principal names) whose history pages after the first always get 503.
    pub failing_users: Vec<String>,
}

impl FaultOptions {
    fn is_active(&self) -> bool {
        *self != FaultOptions { seed: self.seed, ..FaultOptions::default() }
    }
}

/// The fault flags of `copilot-lake simulate`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FaultArgs {
    /// Seed of the fault choices. Default: --seed.
    #[arg(long, env = "COPILOT_LAKE_FAULT_SEED")]
    pub fault_seed: Option<u64>,

    /// Graph requests accepted in any one-second window; more get 429 with Retry-After and Graph's TooManyRequests body.
    #[arg(long, env = "COPILOT_LAKE_RATE_LIMIT", value_name = "RPS", value_parser = parse_positive)]
    pub rate_limit: Option<f64>,

    /// Share (0 to 1) of Graph requests answered with 500, 502, 503 or 504 and a Graph error body.
    #[arg(long, env = "COPILOT_LAKE_ERROR_RATE", default_value_t = 0.0, value_parser = parse_share)]
    pub error_rate: f64,

    /// Share (0 to 1) of Graph requests whose connection is dropped without a response.
    #[arg(long, env = "COPILOT_LAKE_RESET_RATE", default_value_t = 0.0, value_parser = parse_share)]
    pub reset_rate: f64,

    /// Share (0 to 1) of 200 responses whose body is cut short.
    #[arg(long, env = "COPILOT_LAKE_TRUNCATE_RATE", default_value_t = 0.0, value_parser = parse_share)]
    pub truncate_rate: f64,

    /// Delay before each Graph response, in milliseconds.
    #[arg(long, env = "COPILOT_LAKE_LATENCY_MS", default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,

    /// Share (0 to 1) of interaction pages whose next page repeats their last record, as Graph's paging does when records shift.
    #[arg(long, env = "COPILOT_LAKE_PAGE_SHIFT", default_value_t = 0.0, value_parser = parse_share)]
    pub page_shift: f64,

    /// A user (id or user principal name) whose history pages after the first always get 503 (repeatable).
    #[arg(long = "fail-user", env = "COPILOT_LAKE_FAIL_USER", value_delimiter = ',')]
    pub fail_users: Vec<String>,
}

impl FaultArgs {
    /// The fault options, seeded with `--fault-seed` or else `data_seed`.
    pub fn options(&self, data_seed: u64) -> FaultOptions {
        FaultOptions {
            seed: self.fault_seed.unwrap_or(data_seed),
            rate_limit: self.rate_limit,
            error_rate: self.error_rate,
            reset_rate: self.reset_rate,
            truncate_rate: self.truncate_rate,
            latency: Duration::from_millis(self.latency_ms),
            page_shift_rate: self.page_shift,
            failing_users: self.fail_users.clone(),
        }
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("invalid share '{text}': give a number from 0 to 1, such as 0.05")),
    }
}

fn parse_positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err(format!("invalid rate '{text}': give a positive number of requests per second, such as 30")),
    }
}

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Graph requests that reached the fault layer.
    pub requests: u64,
    pub throttled: u64,
    pub errors: u64,
    pub resets: u64,
    pub truncated: u64,
    pub shifted_pages: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    throttled: AtomicU64,
    errors: AtomicU64,
    resets: AtomicU64,
    truncated: AtomicU64,
    shifted_pages: AtomicU64,
}

/// The state of fault injection, shared by all requests.
#[derive(Debug, Default)]
pub struct FaultInjector {
    options: FaultOptions,
    /// Instants of the requests accepted within the last second, oldest first.
    window: Mutex<VecDeque<Instant>>,
    /// How often each path and query was requested.
    seen: Mutex<HashMap<String, u64>>,
    counters: Counters,
}

/// Salts that make the choices of different fault kinds independent.
const ERROR: u64 = 1;
const ERROR_STATUS: u64 = 2;
const RESET: u64 = 3;
const TRUNCATE: u64 = 4;
const TRUNCATE_AT: u64 = 5;
const TRUNCATE_STYLE: u64 = 6;
const SHIFT: u64 = 7;

impl FaultInjector {
    pub fn new(options: FaultOptions) -> Arc<Self> {
        Arc::new(FaultInjector { options, ..FaultInjector::default() })
    }

    pub fn counts(&self) -> FaultCounts {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let counters = &self.counters;
        FaultCounts {
            requests: load(&counters.requests),
            throttled: load(&counters.throttled),
            errors: load(&counters.errors),
            resets: load(&counters.resets),
            truncated: load(&counters.truncated),
            shifted_pages: load(&counters.shifted_pages),
        }
    }

    /// Returns how many records early the next page of the page at `uri` starts: 1 for a
    /// shifted page, else 0. Pages of one record are never shifted, so paging still advances.
    pub fn page_shift(&self, uri: &Uri, top: usize) -> usize {
        if top < 2 || self.options.page_shift_rate <= 0.0 {
            return 0;
        }
        let shifted = self.roll(SHIFT, &request_key(uri), 0) < self.options.page_shift_rate;
        if shifted {
            self.counters.shifted_pages.fetch_add(1, Ordering::Relaxed);
        }
        usize::from(shifted)
    }

    /// Accepts the request into the one-second window, or returns the `Retry-After` seconds:
    /// the time until the oldest accepted request leaves the window, rounded up.
    fn admit(&self, now: Instant) -> Result<(), u64> {
        let Some(limit) = self.options.rate_limit else {
            return Ok(());
        };
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        while window.front().is_some_and(|accepted| now.duration_since(*accepted) >= Duration::from_secs(1)) {
            window.pop_front();
        }
        if (window.len() as f64) < limit {
            window.push_back(now);
            return Ok(());
        }
        let frees_in =
            window.front().map_or(Duration::ZERO, |oldest| Duration::from_secs(1) - now.duration_since(*oldest));
        Err(frees_in.as_secs_f64().ceil().max(1.0) as u64)
    }

    /// Counts one more request for `key` and returns how many came before it.
    fn attempt(&self, key: &str) -> u64 {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let count = seen.entry(key.to_owned()).or_insert(0);
        *count += 1;
        *count - 1
    }

    /// A number in [0, 1) that depends only on the seed, the fault kind, the request and the
    /// attempt.
    fn roll(&self, kind: u64, key: &str, attempt: u64) -> f64 {
        let mut hash = fnv1a(key.as_bytes()) ^ self.options.seed.rotate_left(17);
        hash = splitmix64(hash ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        hash = splitmix64(hash ^ attempt);
        (hash >> 11) as f64 / (1u64 << 53) as f64
    }

    fn is_failing_user(&self, state: &AppState, uri: &Uri) -> bool {
        if self.options.failing_users.is_empty() || !uri.query().is_some_and(|query| query.contains("skiptoken")) {
            return false;
        }
        let Some(segment) = interaction_user(uri.path()) else {
            return false;
        };
        let decoded = percent_decode(segment);
        let Some(user) = state.dataset.find_user(&decoded) else {
            return false;
        };
        self.options
            .failing_users
            .iter()
            .any(|failing| state.dataset.find_user(failing).is_some_and(|failing| failing.id == user.id))
    }
}

/// Middleware on the Graph routes: throttling first (at arrival), then latency, errors,
/// dropped connections, the handler, and truncation of its 200 response.
pub(super) async fn inject(
    State(state): State<Arc<AppState>>,
    Extension(ids): Extension<RequestIds>,
    request: Request,
    next: Next,
) -> Response {
    let faults = Arc::clone(&state.faults);
    if !faults.options.is_active() {
        return next.run(request).await;
    }
    faults.counters.requests.fetch_add(1, Ordering::Relaxed);
    let uri = request.uri().clone();
    if let Err(retry_after) = faults.admit(Instant::now()) {
        faults.counters.throttled.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(path = uri.path(), retry_after, request_id = %ids.request_id, "simulated throttling");
        return too_many_requests(&ids, retry_after);
    }
    let key = request_key(&uri);
    let attempt = faults.attempt(&key);
    if !faults.options.latency.is_zero() {
        tokio::time::sleep(faults.options.latency).await;
    }

    let failing_user = faults.is_failing_user(&state, &uri);
    if failing_user || faults.roll(ERROR, &key, attempt) < faults.options.error_rate {
        faults.counters.errors.fetch_add(1, Ordering::Relaxed);
        let pick =
            if failing_user { SERVICE_UNAVAILABLE } else { (faults.roll(ERROR_STATUS, &key, attempt) * 4.0) as usize };
        tracing::debug!(path = uri.path(), request_id = %ids.request_id, "simulated server error");
        return server_error(pick).render(&ids);
    }
    if faults.roll(RESET, &key, attempt) < faults.options.reset_rate {
        faults.counters.resets.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(path = uri.path(), request_id = %ids.request_id, "simulated connection reset");
        return dropped_connection();
    }

    let response = next.run(request).await;
    if response.status() != StatusCode::OK || faults.roll(TRUNCATE, &key, attempt) >= faults.options.truncate_rate {
        return response;
    }
    faults.counters.truncated.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(path = uri.path(), request_id = %ids.request_id, "simulated truncated body");
    truncate(response, faults.roll(TRUNCATE_AT, &key, attempt), faults.roll(TRUNCATE_STYLE, &key, attempt) < 0.5).await
}

/// Graph's throttling answer: 429, `Retry-After` in seconds, and code `TooManyRequests`.
fn too_many_requests(ids: &RequestIds, retry_after: u64) -> Response {
    let mut response =
        GraphError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests").render(ids);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// The `pick` of [`server_error`] for 503.
const SERVICE_UNAVAILABLE: usize = 2;

/// One of the four transient server errors, picked by `pick` (0 to 3).
fn server_error(pick: usize) -> GraphError {
    match pick {
        0 => GraphError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Failed to execute request."),
        1 => GraphError::new(StatusCode::BAD_GATEWAY, "BadGateway", "Bad gateway."),
        2 => GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        _ => GraphError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "GatewayTimeout",
            "The gateway did not receive a response in time.",
        ),
    }
}

/// A response whose body fails before its first byte. hyper then closes the connection
/// without sending the response, so the client sees the connection end mid-request.
fn dropped_connection() -> Response {
    let failure = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated connection reset");
    Response::new(Body::from_stream(futures::stream::once(async move { Err::<Bytes, _>(failure) })))
}

/// Cuts the body of `response` at the share `at` of its length (at least one byte kept, at
/// least one dropped). With `complete`, the cut body is a whole HTTP message, as a proxy that
/// truncates would send; otherwise `Content-Length` announces the full body and the connection
/// breaks after the cut.
async fn truncate(response: Response, at: f64, complete: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return dropped_connection();
    };
    if bytes.len() < 2 {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let cut = 1 + ((bytes.len() - 1) as f64 * at) as usize;
    let prefix = bytes.slice(..cut.min(bytes.len() - 1));
    if complete {
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from(prefix));
    }
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let failure = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated truncation");
    let chunks = futures::stream::iter([Ok(prefix), Err(failure)]);
    Response::from_parts(parts, Body::from_stream(chunks))
}

fn request_key(uri: &Uri) -> String {
    uri.path_and_query().map_or_else(|| uri.path().to_owned(), |path| path.as_str().to_owned())
}

/// The user segment of an interaction-history path.
fn interaction_user(path: &str) -> Option<&str> {
    let rest = path.split_once("/copilot/users/")?.1;
    rest.split('/').next()
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, value)| value.into_owned())
}

/// FNV-1a: a stable hash of the request key, unlike std's hasher, whose output may change
/// between Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01B3))
}

fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injector(options: FaultOptions) -> Arc<FaultInjector> {
        FaultInjector::new(options)
    }

    #[test]
    fn rolls_repeat_for_the_same_seed_and_request() {
        let first = injector(FaultOptions { seed: 7, ..FaultOptions::default() });
        let second = injector(FaultOptions { seed: 7, ..FaultOptions::default() });
        let other = injector(FaultOptions { seed: 8, ..FaultOptions::default() });
        let key = "/v1.0/users?$top=999";
        assert_eq!(first.roll(ERROR, key, 0), second.roll(ERROR, key, 0));
        assert_ne!(first.roll(ERROR, key, 0), other.roll(ERROR, key, 0));
        assert_ne!(first.roll(ERROR, key, 0), first.roll(ERROR, key, 1), "a retry gets a new roll");
        assert_ne!(first.roll(ERROR, key, 0), first.roll(RESET, key, 0), "kinds are independent");
    }

    #[test]
    fn rolls_spread_evenly() {
        let faults = injector(FaultOptions::default());
        let hits = (0..10_000).filter(|n| faults.roll(ERROR, &format!("/page/{n}"), 0) < 0.1).count();
        assert!((900..=1100).contains(&hits), "{hits} of 10000 below 0.1");
    }

    #[test]
    fn window_admits_the_limit_per_second() {
        let faults = injector(FaultOptions { rate_limit: Some(3.0), ..FaultOptions::default() });
        let start = Instant::now();
        for offset in [0, 100, 200] {
            assert!(faults.admit(start + Duration::from_millis(offset)).is_ok());
        }
        assert_eq!(faults.admit(start + Duration::from_millis(300)), Err(1));
        assert!(faults.admit(start + Duration::from_millis(1000)).is_ok(), "the first request left the window");
    }

    #[test]
    fn inactive_by_default() {
        assert!(!FaultOptions::default().is_active());
        assert!(!FaultOptions { seed: 9, ..FaultOptions::default() }.is_active());
        assert!(FaultOptions { latency: Duration::from_millis(1), ..FaultOptions::default() }.is_active());
    }

    #[test]
    fn user_segment_is_found() {
        let path = "/v1.0/copilot/users/u%401/interactionHistory/getAllEnterpriseInteractions";
        assert_eq!(interaction_user(path), Some("u%401"));
        assert_eq!(percent_decode("u%401"), "u@1");
        assert_eq!(interaction_user("/v1.0/users"), None);
    }

    #[tokio::test]
    async fn truncation_keeps_part_of_the_body() {
        let body = Bytes::from_static(br#"{"value":[{"id":"1"}]}"#);
        let response = truncate(Response::new(Body::from(body.clone())), 0.5, true).await;
        let kept = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("complete message");
        assert!(!kept.is_empty() && kept.len() < body.len(), "{kept:?}");
        assert!(body.starts_with(&kept));
        assert!(serde_json::from_slice::<serde_json::Value>(&kept).is_err());

        let response = truncate(Response::new(Body::from(body.clone())), 0.99, false).await;
        assert_eq!(response.headers()[header::CONTENT_LENGTH], body.len().to_string().as_str());
        assert!(axum::body::to_bytes(response.into_body(), usize::MAX).await.is_err(), "the body breaks");
    }
}

//! The HTTP side of the Graph client: one `get` with the rate budget, the token, retries and the
//! rule that the token only goes to the configured Graph host.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use tokio::time::Instant;
use url::Url;

use super::auth::TokenProvider;
use super::error::{ApiError, BodyError, GraphError};
use super::permissions::{UserListing, check_roles};
use super::rate::RateLimiter;
use super::retry::{RetryConfig, is_retryable_status, retry_after};

/// Request counters for the run summary.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
}

pub struct GraphClient {
    http: reqwest::Client,
    graph_url: Url,
    tokens: TokenProvider,
    limiter: RateLimiter,
    retry: RetryConfig,
    pub stats: Arc<RequestStats>,
}

/// Why one attempt failed, whether another attempt may help, and the ids to log.
struct Failure {
    error: GraphError,
    retryable: bool,
    status: Option<u16>,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: GraphError) -> Self {
        Failure { error, retryable: false, status: None, retry_after: None }
    }

    /// True for the 401 of an expired or revoked token, which a new token may fix.
    fn is_rejected_token(&self) -> bool {
        matches!(&self.error, GraphError::Api { error, .. } if error.status == 401)
    }
}

impl GraphClient {
    pub fn new(
        http: reqwest::Client,
        graph_url: Url,
        mut tokens: TokenProvider,
        max_requests_per_second: f64,
        retry: RetryConfig,
    ) -> Self {
        tokens.set_retry(retry.clone());
        GraphClient {
            http,
            graph_url,
            tokens,
            limiter: RateLimiter::new(max_requests_per_second),
            retry,
            stats: Arc::new(RequestStats::default()),
        }
    }

    pub fn graph_url(&self) -> &Url {
        &self.graph_url
    }

    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// Checks that a URL from a response may receive the token: same scheme, host and port as
    /// the configured Graph URL. Anything else would leak the token to a third party.
    pub fn check_link(&self, link: &str) -> Result<Url, GraphError> {
        let url = Url::parse(link)
            .map_err(|error| GraphError::InvalidUrl { url: link.to_owned(), reason: error.to_string() })?;
        let same_origin = url.scheme() == self.graph_url.scheme()
            && url.host_str() == self.graph_url.host_str()
            && url.port_or_known_default() == self.graph_url.port_or_known_default();
        if !same_origin {
            return Err(GraphError::ForeignLink {
                link: link.to_owned(),
                allowed: self.graph_url.origin().ascii_serialization(),
            });
        }
        Ok(url)
    }

    /// GETs `url` and parses the body with `parse`, retrying transient faults, including bodies
    /// that `parse` rejects as retryable: a truncated transfer looks like invalid JSON.
    pub async fn get<T, E: Into<BodyError>>(
        &self,
        url: &Url,
        parse: impl Fn(&Bytes) -> Result<T, E>,
    ) -> Result<T, GraphError> {
        let started = Instant::now();
        let mut refreshed_token = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(url, &parse).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if failure.is_rejected_token() && !refreshed_token {
                // Tokens can be revoked or expire early: fetch a new one once and retry.
                refreshed_token = true;
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                self.tokens.invalidate().await;
                let (request_id, client_request_id) = failure.error.request_ids();
                tracing::info!(
                    path = url.path(),
                    status = 401,
                    attempt,
                    request_id,
                    client_request_id,
                    "access token rejected, fetching a new one"
                );
                continue;
            }
            if !failure.retryable {
                return Err(failure.error.with_attempts(attempt, started.elapsed()));
            }

            let delay = self.retry.delay(attempt, failure.retry_after);
            if failure.status == Some(429) {
                self.note_throttled(failure.retry_after);
            }
            if !self.retry.allows(attempt, started.elapsed(), delay) {
                return Err(failure.error.with_attempts(attempt, started.elapsed()));
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let (request_id, client_request_id) = failure.error.request_ids();
            tracing::info!(
                path = url.path(),
                status = failure.status,
                attempt,
                delay_ms = delay.as_millis() as u64,
                request_id,
                client_request_id,
                reason = failure.error.reason(),
                "retrying Graph request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Slows the whole run down after a 429.
    fn note_throttled(&self, retry_after: Option<Duration>) {
        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        let throttled = self.limiter.throttled(retry_after);
        if throttled.lowered {
            tracing::info!(
                requests_per_second = format!("{:.1}", throttled.rate),
                retry_after_seconds = retry_after.map(|pause| pause.as_secs()),
                "Graph throttled a request; lowering the request rate"
            );
        }
    }

    /// The current request rate of the budget, which throttling lowers for a while.
    pub fn request_rate(&self) -> f64 {
        self.limiter.rate()
    }

    /// Fetches the first access token and checks its application permissions for the run, so
    /// a bad credential or a missing admin consent ends the run before any user is read.
    pub async fn check_permissions(&self, listing: UserListing) -> Result<(), GraphError> {
        let token = self.tokens.token().await?;
        check_roles(&token, listing)
    }

    async fn attempt<T, E: Into<BodyError>>(
        &self,
        url: &Url,
        parse: &impl Fn(&Bytes) -> Result<T, E>,
    ) -> Result<T, Failure> {
        self.limiter.acquire().await;
        let token = self.tokens.token().await.map_err(Failure::fatal)?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);

        let client_request_id = new_request_id();
        let transport = |message: String, status: Option<u16>, request_id: Option<String>| Failure {
            error: GraphError::Transport {
                path: path_of(url),
                attempts: 1,
                elapsed: Duration::ZERO,
                message,
                request_id,
                client_request_id: client_request_id.clone(),
            },
            retryable: true,
            status,
            retry_after: None,
        };
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(token.expose())
            .header("client-request-id", &client_request_id)
            .header("return-client-request-id", "true")
            .send()
            .await
            .map_err(|error| transport(describe_transport_error(error), None, None))?;

        let status = response.status();
        let headers = response.headers().clone();
        let request_id = headers.get("request-id").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = response.bytes().await.map_err(|error| {
            let message = format!("reading the body failed: {}", describe_transport_error(error));
            transport(message, Some(status.as_u16()), request_id.clone())
        })?;

        if status == StatusCode::OK {
            return parse(&body).map_err(|error| match error.into() {
                BodyError { message, retryable: false } => {
                    Failure::fatal(GraphError::InvalidBody { path: path_of(url), message })
                }
                BodyError { message, retryable: true } => {
                    transport(format!("invalid response body: {message}"), Some(200), request_id.clone())
                }
            });
        }

        let mut error = ApiError::from_response(status.as_u16(), &headers, &body);
        error.client_request_id.get_or_insert(client_request_id.clone());
        let retryable = is_retryable_status(status.as_u16());
        Err(Failure {
            error: GraphError::Api { path: path_of(url), attempts: 1, elapsed: Duration::ZERO, error: Box::new(error) },
            retryable,
            status: Some(status.as_u16()),
            retry_after: retry_after(&headers),
        })
    }
}

/// The URL without its query string, for logs and errors: the path names the user and endpoint,
/// while the query only repeats the filter.
fn path_of(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// The error and its causes, such as "error sending request: connection closed before message
/// completed", without the URL. reqwest's own message names only the outermost layer.
pub(crate) fn describe_transport_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A random id in the GUID format Graph echoes in `client-request-id`.
pub(crate) fn new_request_id() -> String {
    let bits: u128 = rand::random();
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::auth::{Credential, TokenProvider};

    fn client(graph_url: &str) -> GraphClient {
        let http = reqwest::Client::new();
        let tokens = TokenProvider::new(Credential::TokenFile("/nonexistent".into()), http.clone());
        GraphClient::new(http, Url::parse(graph_url).expect("url"), tokens, 25.0, RetryConfig::default())
    }

    #[test]
    fn links_to_the_graph_origin_pass() {
        let client = client("https://graph.microsoft.com/v1.0");
        let link = "https://graph.microsoft.com/v1.0/users?$skiptoken=abc";
        assert!(client.check_link(link).is_ok());
    }

    #[test]
    fn foreign_links_are_refused() {
        let client = client("http://127.0.0.1:8080/v1.0");
        for link in
            ["http://evil.example/v1.0/users", "https://127.0.0.1:8080/v1.0/users", "http://127.0.0.1:9090/v1.0/users"]
        {
            let error = client.check_link(link).expect_err(link);
            assert!(matches!(error, GraphError::ForeignLink { .. }), "{link}: {error}");
        }
    }

    #[test]
    fn unparsable_link_is_invalid_url() {
        let client = client("http://127.0.0.1:8080/v1.0");
        let error = client.check_link("not a url").expect_err("invalid");
        assert!(matches!(error, GraphError::InvalidUrl { .. }));
    }

    #[test]
    fn request_ids_look_like_guids() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}

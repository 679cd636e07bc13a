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
use super::error::{ApiError, GraphError};
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

/// Why one attempt failed, and whether another attempt may help.
enum AttemptError {
    Retry { reason: String, status: Option<u16>, retry_after: Option<Duration>, error: GraphError },
    Fatal(GraphError),
}

impl GraphClient {
    pub fn new(
        http: reqwest::Client,
        graph_url: Url,
        tokens: TokenProvider,
        max_requests_per_second: f64,
        retry: RetryConfig,
    ) -> Self {
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
        let url = Url::parse(link).map_err(|error| GraphError::InvalidUrl {
            url: link.to_owned(),
            reason: error.to_string(),
        })?;
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
    /// that `parse` rejects: a truncated transfer looks like invalid JSON.
    pub async fn get<T>(
        &self,
        url: &Url,
        parse: impl Fn(&Bytes) -> Result<T, String>,
    ) -> Result<T, GraphError> {
        let started = Instant::now();
        let mut refreshed_token = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.attempt(url, &parse).await {
                Ok(value) => return Ok(value),
                Err(AttemptError::Fatal(GraphError::Api { error, .. }))
                    if error.status == 401 && !refreshed_token =>
                {
                    // Tokens can be revoked or expire early: fetch a new one once and retry.
                    refreshed_token = true;
                    self.tokens.invalidate().await;
                    tracing::info!(status = 401, attempt, request_id = error.request_id.as_deref(), "access token rejected, fetching a new one");
                    continue;
                }
                Err(AttemptError::Fatal(error)) => return Err(with_attempts(error, attempt, started)),
                Err(AttemptError::Retry { reason, status, retry_after, error }) => {
                    (reason, status, retry_after, error)
                }
            };
            let (reason, status, retry_after, error) = error;
            let elapsed = started.elapsed();
            if attempt >= self.retry.max_attempts || elapsed >= self.retry.max_elapsed {
                return Err(with_attempts(error, attempt, started));
            }

            let delay = self.retry.delay(attempt, retry_after);
            if status == Some(429) {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                self.limiter.pause(delay).await;
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let (request_id, client_request_id) = request_ids(&error);
            tracing::info!(
                path = url.path(),
                status,
                attempt,
                delay_ms = delay.as_millis() as u64,
                request_id,
                client_request_id,
                reason = reason.as_str(),
                "retrying Graph request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt<T>(
        &self,
        url: &Url,
        parse: &impl Fn(&Bytes) -> Result<T, String>,
    ) -> Result<T, AttemptError> {
        self.limiter.acquire().await;
        let token = self.tokens.token().await.map_err(AttemptError::Fatal)?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);

        let transport = |error: reqwest::Error| {
            let message = error.without_url().to_string();
            AttemptError::Retry {
                reason: message.clone(),
                status: None,
                retry_after: None,
                error: GraphError::Transport { path: path_of(url), attempts: 0, elapsed: Duration::ZERO, message },
            }
        };
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(token.expose())
            .header("client-request-id", new_request_id())
            .header("return-client-request-id", "true")
            .send()
            .await
            .map_err(transport)?;

        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;

        if status == StatusCode::OK {
            return parse(&body).map_err(|reason| AttemptError::Retry {
                reason: reason.clone(),
                status: Some(200),
                retry_after: None,
                error: GraphError::Transport {
                    path: path_of(url),
                    attempts: 0,
                    elapsed: Duration::ZERO,
                    message: format!("invalid response body: {reason}"),
                },
            });
        }

        let error = GraphError::Api {
            path: path_of(url),
            attempts: 0,
            elapsed: Duration::ZERO,
            error: ApiError::from_response(status.as_u16(), &headers, &body),
        };
        if is_retryable_status(status.as_u16()) {
            return Err(AttemptError::Retry {
                reason: format!("HTTP {}", status.as_u16()),
                status: Some(status.as_u16()),
                retry_after: retry_after(&headers),
                error,
            });
        }
        Err(AttemptError::Fatal(error))
    }
}

/// The URL without its query string, for logs and errors: the path names the user and endpoint,
/// while the query only repeats the filter.
fn path_of(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

fn with_attempts(error: GraphError, attempts: u32, started: Instant) -> GraphError {
    let elapsed = started.elapsed();
    match error {
        GraphError::Api { path, error, .. } => GraphError::Api { path, attempts, elapsed, error },
        GraphError::Transport { path, message, .. } => {
            GraphError::Transport { path, attempts, elapsed, message }
        }
        other => other,
    }
}

fn request_ids(error: &GraphError) -> (Option<&str>, Option<&str>) {
    match error {
        GraphError::Api { error, .. } => {
            (error.request_id.as_deref(), error.client_request_id.as_deref())
        }
        _ => (None, None),
    }
}

/// A random id in the GUID format Graph echoes in `client-request-id`.
fn new_request_id() -> String {
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
        GraphClient::new(
            http,
            Url::parse(graph_url).expect("url"),
            tokens,
            25.0,
            RetryConfig::default(),
        )
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
        for link in [
            "http://evil.example/v1.0/users",
            "https://127.0.0.1:8080/v1.0/users",
            "http://127.0.0.1:9090/v1.0/users",
        ] {
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

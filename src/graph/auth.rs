//! Access tokens: the OAuth 2.0 client-credentials grant against Microsoft Entra ID (with a
//! client secret, a client certificate or a federated token), or a ready bearer token from a
//! file. Tokens are cached and refreshed before they expire.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::certificate::ClientCertificate;
use super::error::GraphError;
use super::retry::{RetryConfig, is_retryable_status, retry_after};

/// A secret string whose `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Returns the value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where access tokens come from.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Client-credentials grant with a client secret.
    ClientSecret { authority: Url, tenant_id: String, client_id: String, secret: Secret },
    /// Client-credentials grant with a client assertion signed by the app's certificate.
    Certificate { authority: Url, tenant_id: String, client_id: String, certificate: Arc<ClientCertificate> },
    /// Client-credentials grant with a federated token (Azure workload identity) as the client
    /// assertion. The file is read again for every token request, because the platform
    /// replaces the token before it expires.
    FederatedToken { authority: Url, tenant_id: String, client_id: String, token_file: PathBuf },
    /// A bearer token that something else keeps fresh; the file is read again on refresh.
    TokenFile(PathBuf),
}

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The Graph scope for application permissions.
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Tokens are renewed this long before they expire, so no request starts with a token that
/// runs out in flight. Short-lived tokens renew once 80% of their life has passed instead.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A token file is read again after this long even if the token has no readable expiry.
const TOKEN_FILE_MAX_AGE: Duration = Duration::from_secs(300);

#[derive(Clone)]
struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

/// Hands out a valid access token, fetching a new one when the cached one is near expiry.
pub struct TokenProvider {
    credential: Credential,
    http: reqwest::Client,
    retry: RetryConfig,
    cached: Mutex<Option<CachedToken>>,
}

/// A failed token request, and whether another attempt may help.
struct TokenFailure {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenProvider {
    pub fn new(credential: Credential, http: reqwest::Client) -> Self {
        TokenProvider { credential, http, retry: RetryConfig::default(), cached: Mutex::new(None) }
    }

    /// Sets how transient failures of the token endpoint are retried.
    pub fn set_retry(&mut self, retry: RetryConfig) {
        self.retry = retry;
    }

    /// Returns a token valid for at least the refresh margin, fetching one if needed.
    pub async fn token(&self) -> Result<Secret, GraphError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Drops the cached token after Graph rejected it, so the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<CachedToken, GraphError> {
        match &self.credential {
            Credential::ClientSecret { authority, tenant_id, client_id, secret } => {
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.expose()),
                    ("scope", GRAPH_SCOPE),
                ];
                self.request_token(&token_endpoint(authority, tenant_id)?, &form).await
            }
            Credential::Certificate { authority, tenant_id, client_id, certificate } => {
                let endpoint = token_endpoint(authority, tenant_id)?;
                let assertion = certificate
                    .assertion(client_id, endpoint.as_str(), chrono::Utc::now().timestamp())
                    .map_err(|message| GraphError::Token { endpoint: endpoint.to_string(), message })?;
                self.request_assertion_token(&endpoint, client_id, &assertion).await
            }
            Credential::FederatedToken { authority, tenant_id, client_id, token_file } => {
                let endpoint = token_endpoint(authority, tenant_id)?;
                let assertion = read_federated_token(token_file).await?;
                self.request_assertion_token(&endpoint, client_id, &assertion).await
            }
            Credential::TokenFile(path) => read_token_file(path).await,
        }
    }

    async fn request_assertion_token(
        &self,
        endpoint: &Url,
        client_id: &str,
        assertion: &Secret,
    ) -> Result<CachedToken, GraphError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion.expose()),
            ("scope", GRAPH_SCOPE),
        ];
        self.request_token(endpoint, &form).await
    }

    /// POSTs the token request, retrying throttling, server faults and transport failures like
    /// Graph requests. A rejected credential fails at once.
    async fn request_token(&self, endpoint: &Url, form: &[(&str, &str)]) -> Result<CachedToken, GraphError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.token_attempt(endpoint, form).await {
                Ok(token) => return Ok(token),
                Err(failure) => failure,
            };
            let delay = self.retry.delay(attempt, failure.retry_after);
            if !failure.retryable || !self.retry.allows(attempt, started.elapsed(), delay) {
                let message = format!("{} (after {attempt} attempt(s))", failure.message);
                return Err(GraphError::Token { endpoint: endpoint.to_string(), message });
            }
            tracing::info!(
                endpoint = %endpoint,
                attempt,
                delay_ms = delay.as_millis() as u64,
                reason = failure.message,
                "retrying the access token request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn token_attempt(&self, endpoint: &Url, form: &[(&str, &str)]) -> Result<CachedToken, TokenFailure> {
        let transport = |error: reqwest::Error| TokenFailure {
            message: super::client::describe_transport_error(error),
            retryable: true,
            retry_after: None,
        };
        let response = self.http.post(endpoint.clone()).form(form).send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;

        if !status.is_success() {
            return Err(TokenFailure {
                message: describe_token_error(status.as_u16(), &body),
                retryable: is_retryable_status(status.as_u16()),
                retry_after: retry_after(&headers),
            });
        }
        // A 200 whose body is not JSON was cut short on the way: worth a retry. The message
        // gives only the position, because serde quotes values and the value is the token.
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|error| TokenFailure {
            message: format!(
                "the token response is not the expected JSON ({:?} error at line {} column {})",
                error.classify(),
                error.line(),
                error.column()
            ),
            retryable: !error.is_data(),
            retry_after: None,
        })?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        Ok(CachedToken { refresh_at: refresh_instant(lifetime), value: Secret::new(token.access_token) })
    }
}

/// `{authority}/{tenant}/oauth2/v2.0/token`
pub fn token_endpoint(authority: &Url, tenant_id: &str) -> Result<Url, GraphError> {
    let mut url = authority.clone();
    url.path_segments_mut()
        .map_err(|()| GraphError::InvalidUrl {
            url: authority.to_string(),
            reason: "the authority URL cannot have a path".into(),
        })?
        .pop_if_empty()
        .extend([tenant_id, "oauth2", "v2.0", "token"]);
    Ok(url)
}

fn describe_token_error(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<TokenErrorResponse>(body) {
        Ok(TokenErrorResponse { error: Some(error), error_description }) => {
            let description = error_description.unwrap_or_default();
            // Entra ID descriptions end with trace and correlation ids after the first line.
            let first_line = description.lines().next().unwrap_or_default();
            format!("HTTP {status} {error}: {first_line}")
        }
        _ => format!("HTTP {status}"),
    }
}

fn refresh_instant(lifetime: Duration) -> Instant {
    let early = lifetime.saturating_sub(REFRESH_MARGIN);
    let share = lifetime.mul_f64(0.8);
    Instant::now() + early.max(share).min(lifetime)
}

/// Reads the federated token that Azure workload identity mounts (`AZURE_FEDERATED_TOKEN_FILE`).
async fn read_federated_token(path: &PathBuf) -> Result<Secret, GraphError> {
    let failure = |message: String| GraphError::FederatedTokenFile { path: path.display().to_string(), message };
    let text = tokio::fs::read_to_string(path).await.map_err(|error| failure(error.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(failure("the file is empty".into()));
    }
    Ok(Secret::new(token))
}

async fn read_token_file(path: &PathBuf) -> Result<CachedToken, GraphError> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|error| GraphError::TokenFile { path: path.display().to_string(), message: error.to_string() })?;
    let value = text.trim().to_owned();
    if value.is_empty() {
        return Err(GraphError::TokenFile { path: path.display().to_string(), message: "the file is empty".into() });
    }
    let lifetime = claims(&value)
        .and_then(|claims| claims.exp)
        .map(|exp| Duration::from_secs(exp.saturating_sub(chrono::Utc::now().timestamp()).max(0) as u64))
        .map_or(TOKEN_FILE_MAX_AGE, |left| left.min(TOKEN_FILE_MAX_AGE));
    Ok(CachedToken { refresh_at: Instant::now() + lifetime, value: Secret::new(value) })
}

/// The claims of an access token that the connector reads. Graph tokens are JWTs; the
/// connector does not verify the signature because Graph does.
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    pub exp: Option<i64>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Decodes the payload of a JWT-shaped token, or `None` for an opaque token.
pub fn claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.to_string(), "<redacted>");
        let credential = Credential::ClientSecret {
            authority: Url::parse("https://login.microsoftonline.com").expect("url"),
            tenant_id: "t".into(),
            client_id: "c".into(),
            secret,
        };
        assert!(!format!("{credential:?}").contains("hunter2"));
    }

    #[test]
    fn token_endpoint_joins_tenant() {
        let authority = Url::parse("http://127.0.0.1:8080/").expect("url");
        let url = token_endpoint(&authority, "contoso").expect("endpoint");
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/contoso/oauth2/v2.0/token");
    }

    #[test]
    fn claims_are_read_from_jwt_payload() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"exp":1700000000,"roles":["User.Read.All"]}"#);
        let token = format!("e30.{payload}.sig");
        let claims = claims(&token).expect("claims");
        assert_eq!(claims.exp, Some(1_700_000_000));
        assert_eq!(claims.roles, ["User.Read.All"]);
        assert!(super::claims("opaque-token").is_none());
    }

    #[test]
    fn token_error_keeps_first_line() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"}"#;
        assert_eq!(
            describe_token_error(401, body),
            "HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided."
        );
    }

    #[test]
    fn short_tokens_refresh_at_four_fifths() {
        let start = Instant::now();
        let at = refresh_instant(Duration::from_secs(60));
        let delay = at.duration_since(start);
        assert!(delay >= Duration::from_secs(47) && delay <= Duration::from_secs(49), "{delay:?}");
    }
}

//! Errors of the Graph client, with variants for what the caller does next.

use std::time::Duration;

use serde::Deserialize;

/// The body Graph sends with every error status:
/// `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    inner_error: Option<InnerError>,
}

#[derive(Deserialize)]
struct InnerError {
    #[serde(rename = "request-id")]
    request_id: Option<String>,
    #[serde(rename = "client-request-id")]
    client_request_id: Option<String>,
}

impl ApiError {
    /// Reads a Graph error body. A body that is not Graph's shape (a proxy's HTML page, say)
    /// keeps the status, with the response headers' request ids when present.
    pub fn from_response(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Self {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let mut error = ApiError {
            status,
            request_id: header("request-id"),
            client_request_id: header("client-request-id"),
            ..ApiError::default()
        };
        if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(body) {
            error.code = envelope.error.code;
            error.message = envelope.error.message;
            if let Some(inner) = envelope.error.inner_error {
                error.request_id = inner.request_id.or(error.request_id);
                error.client_request_id = inner.client_request_id.or(error.client_request_id);
            }
        }
        error
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        write!(
            f,
            " (request-id {}, client-request-id {})",
            self.request_id.as_deref().unwrap_or("none"),
            self.client_request_id.as_deref().unwrap_or("none")
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("GET {path} failed after {attempts} attempt(s) in {elapsed:?}: {error}")]
    /// Graph's error, boxed because it is the largest variant by far.
    Api { path: String, attempts: u32, elapsed: Duration, error: Box<ApiError> },

    #[error(
        "GET {path} failed after {attempts} attempt(s) in {elapsed:?}: {message} (request-id {}, client-request-id {client_request_id})",
        request_id.as_deref().unwrap_or("none")
    )]
    Transport {
        path: String,
        attempts: u32,
        elapsed: Duration,
        message: String,
        /// Graph's id of the last attempt, when a response arrived.
        request_id: Option<String>,
        /// The id the connector sent with the last attempt.
        client_request_id: String,
    },

    #[error("refusing to follow @odata.nextLink to '{link}': only {allowed} receives the access token")]
    ForeignLink { link: String, allowed: String },

    #[error("GET {path} returned a body that is not what the API documents, so retrying cannot help: {message}")]
    InvalidBody { path: String, message: String },

    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("access token request to {endpoint} failed: {message}")]
    Token { endpoint: String, message: String },

    #[error("cannot read the access token file {path}: {message}")]
    TokenFile { path: String, message: String },

    #[error(
        "cannot read the federated token file {path}: {message}; with Azure workload identity, check that the pod's service account is labelled for it and the token is mounted"
    )]
    FederatedTokenFile { path: String, message: String },

    #[error(
        "the access token lacks the application permission {permission} (its roles: {roles}); {needed_for}. Fix: in Microsoft Entra ID, add the Microsoft Graph application permission {permission} to the app registration and grant admin consent for the tenant"
    )]
    MissingPermission { permission: String, roles: String, needed_for: String },
}

impl GraphError {
    /// Returns the error with the attempt count and time of the whole request.
    pub fn with_attempts(self, attempts: u32, elapsed: Duration) -> Self {
        match self {
            GraphError::Api { path, error, .. } => GraphError::Api { path, attempts, elapsed, error },
            GraphError::Transport { path, message, request_id, client_request_id, .. } => {
                GraphError::Transport { path, attempts, elapsed, message, request_id, client_request_id }
            }
            other => other,
        }
    }

    /// Graph's `request-id` and the connector's `client-request-id`, which Microsoft support
    /// asks for.
    pub fn request_ids(&self) -> (Option<&str>, Option<&str>) {
        match self {
            GraphError::Api { error, .. } => (error.request_id.as_deref(), error.client_request_id.as_deref()),
            GraphError::Transport { request_id, client_request_id, .. } => {
                (request_id.as_deref(), Some(client_request_id.as_str()))
            }
            _ => (None, None),
        }
    }

    /// A short cause for retry logs: the status and Graph's code, or the transport failure.
    pub fn reason(&self) -> String {
        match self {
            GraphError::Api { error, .. } if error.code.is_empty() => format!("HTTP {}", error.status),
            GraphError::Api { error, .. } => format!("HTTP {} {}", error.status, error.code),
            GraphError::Transport { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Why a response body with status 200 could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyError {
    pub message: String,
    /// True for damage in transit, such as a truncated body, which another attempt may not
    /// repeat; false for a complete body of the wrong shape, which every attempt gets again.
    pub retryable: bool,
}

/// A plain message is taken as transit damage, so parsers that cannot tell still get retries.
impl From<String> for BodyError {
    fn from(message: String) -> Self {
        BodyError { message, retryable: true }
    }
}

/// How a user's window ended, as reported in the run summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserOutcome {
    Ok,
    /// 403: the user holds no Copilot license.
    NotLicensed,
    /// 404, `Request_ResourceNotFound` or `MailboxNotEnabledForRESTAPI`: the user is gone or has
    /// no mailbox.
    NotFound,
    /// Transient faults exhausted, or a page that could not be read.
    Failed,
}

impl GraphError {
    /// Classifies the error for one user's interaction window.
    pub fn user_outcome(&self) -> UserOutcome {
        match self {
            GraphError::Api { error, .. } if error.code == "MailboxNotEnabledForRESTAPI" => UserOutcome::NotFound,
            GraphError::Api { error, .. } if error.status == 403 => UserOutcome::NotLicensed,
            GraphError::Api { error, .. } if error.status == 404 => UserOutcome::NotFound,
            _ => UserOutcome::Failed,
        }
    }

    /// True when no user can succeed either: bad credentials, missing permissions or a
    /// rejected request shape. A user without a mailbox gets a 400 too, but only that user.
    pub fn is_fatal_for_run(&self) -> bool {
        match self {
            GraphError::Token { .. }
            | GraphError::TokenFile { .. }
            | GraphError::FederatedTokenFile { .. }
            | GraphError::MissingPermission { .. } => true,
            GraphError::Api { error, .. } if error.code == "MailboxNotEnabledForRESTAPI" => false,
            GraphError::Api { error, .. } => matches!(error.status, 400 | 401),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    const FORBIDDEN: &str = include_str!("../../tests/fixtures/error-403-forbidden-unknownerror.json");

    #[test]
    fn graph_error_body_is_read() {
        let error = ApiError::from_response(403, &HeaderMap::new(), FORBIDDEN.as_bytes());
        assert_eq!(error.code, "Forbidden");
        assert_eq!(error.message, "UnknownError");
        assert_eq!(error.request_id.as_deref(), Some("55654d50-3ec1-42fb-b56e-f10695cd0cfd"));
        assert_eq!(error.client_request_id.as_deref(), Some("99654d50-3ec1-42fb-b56e-310695cd0cfd"));
    }

    #[test]
    fn non_graph_body_keeps_status() {
        let error = ApiError::from_response(502, &HeaderMap::new(), b"<html>Bad gateway</html>");
        assert_eq!(error.status, 502);
        assert_eq!(error.to_string(), "HTTP 502 (request-id none, client-request-id none)");
    }

    #[test]
    fn outcomes_follow_status_and_code() {
        let api = |status, code: &str| GraphError::Api {
            path: "/x".into(),
            attempts: 1,
            elapsed: Duration::ZERO,
            error: Box::new(ApiError { status, code: code.into(), ..ApiError::default() }),
        };
        assert_eq!(api(403, "Forbidden").user_outcome(), UserOutcome::NotLicensed);
        assert_eq!(api(404, "Request_ResourceNotFound").user_outcome(), UserOutcome::NotFound);
        assert_eq!(api(400, "MailboxNotEnabledForRESTAPI").user_outcome(), UserOutcome::NotFound);
        assert_eq!(api(503, "ServiceUnavailable").user_outcome(), UserOutcome::Failed);
        assert!(!api(400, "MailboxNotEnabledForRESTAPI").is_fatal_for_run());
        assert!(api(400, "BadRequest").is_fatal_for_run());
        assert!(api(401, "InvalidAuthenticationToken").is_fatal_for_run());
    }
}

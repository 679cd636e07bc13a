//! Error responses of Microsoft Graph and of the Entra ID token endpoint, and the request ids
//! that Graph puts in their bodies and headers.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;

use super::session::format_guid;

/// The ids of one request: Graph's own, and the caller's `client-request-id` header, which
/// defaults to Graph's id when the caller sent none.
#[derive(Debug, Clone)]
pub(super) struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

/// Hands out GUID-shaped request ids from a counter, so runs are repeatable.
#[derive(Debug, Default)]
pub(super) struct RequestIdSource {
    counter: AtomicU64,
}

impl RequestIdSource {
    pub fn next_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let bits = (u128::from(splitmix64(2 * n)) << 64) | u128::from(splitmix64(2 * n + 1));
        // Version 4 and RFC 4122 variant bits, so the ids look like the ones Graph sends.
        let bits = (bits & !(0xF << 76)) | (0x4 << 76);
        let bits = (bits & !(0x3 << 62)) | (0x2 << 62);
        format_guid(bits)
    }
}

/// The SplitMix64 mixing function: spreads counter values over all 64 bits.
fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A Graph error: the status and the `code` and `message` of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl GraphError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError { status, code, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn invalid_filter() -> Self {
        GraphError::bad_request("Invalid filter clause")
    }

    /// The 400 Graph returns for a `$filter` on a property it does not filter on, such as
    /// `sessionId` or `requestId`.
    pub fn filter_not_allowed(property: &str, operation_kind: &str) -> Self {
        GraphError::bad_request(format!(
            "The entity property '{property}' and operationKind '{operation_kind}' is not allowed in $filter query."
        ))
    }

    /// The 500 Graph returns for a `createdDateTime` filter with only one bound.
    pub fn single_bound() -> Self {
        GraphError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Failed to execute request.")
    }

    /// The 403 Graph returns for a user without a Copilot license.
    pub fn unlicensed() -> Self {
        GraphError::new(StatusCode::FORBIDDEN, "Forbidden", "UnknownError")
    }

    pub fn user_not_found(user: &str) -> Self {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{user}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub fn segment_not_found(segment: &str) -> Self {
        GraphError::new(StatusCode::NOT_FOUND, "BadRequest", format!("Resource not found for the segment '{segment}'."))
    }

    pub fn method_not_allowed() -> Self {
        GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "Specified HTTP method is not allowed for the request uri.",
        )
    }

    pub fn token_missing() -> Self {
        GraphError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token is empty.")
    }

    pub fn token_rejected() -> Self {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        )
    }

    /// Builds the response: the Graph error body, plus `WWW-Authenticate` on 401 as Graph sends it.
    /// The `request-id` headers are added by the server's middleware.
    pub fn render(&self, ids: &RequestIds) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: &self.message,
                inner_error: InnerError {
                    date: Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                    request_id: &ids.request_id,
                    client_request_id: &ids.client_request_id,
                },
            },
        };
        let mut response = json_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        response
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(rename = "innerError")]
    inner_error: InnerError<'a>,
}

#[derive(Serialize)]
struct InnerError<'a> {
    date: String,
    #[serde(rename = "request-id")]
    request_id: &'a str,
    #[serde(rename = "client-request-id")]
    client_request_id: &'a str,
}

/// An error of the Entra ID token endpoint: the OAuth `error`, the AADSTS number and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TokenError {
    pub status: StatusCode,
    pub error: &'static str,
    pub aadsts: u32,
    pub description: String,
}

impl TokenError {
    pub fn new(status: StatusCode, error: &'static str, aadsts: u32, description: impl Into<String>) -> Self {
        TokenError { status, error, aadsts, description: description.into() }
    }

    /// Builds the body Entra ID sends, whose `error_description` ends with the trace id,
    /// correlation id and time on lines of their own.
    pub fn render(&self, ids: &RequestIds) -> Response {
        let now = Utc::now();
        let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        let description = format!(
            "AADSTS{}: {} Trace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {timestamp}",
            self.aadsts, self.description, ids.request_id, ids.client_request_id
        );
        let body = TokenErrorBody {
            error: self.error,
            error_description: description,
            error_codes: [self.aadsts],
            timestamp,
            trace_id: &ids.request_id,
            correlation_id: &ids.client_request_id,
            error_uri: format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        };
        json_response(self.status, &body)
    }
}

#[derive(Serialize)]
struct TokenErrorBody<'a> {
    error: &'a str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: String,
    trace_id: &'a str,
    correlation_id: &'a str,
    error_uri: String,
}

/// Serializes `body` as an `application/json` response with `status`.
pub(super) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        // Only bodies made of strings, numbers and lists reach here, which always serialize.
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn ids() -> RequestIds {
        RequestIds { request_id: "r-1".into(), client_request_id: "c-1".into() }
    }

    async fn text_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
    }

    async fn body_of(response: Response) -> Value {
        serde_json::from_str(&text_of(response).await).expect("JSON body")
    }

    #[tokio::test]
    async fn graph_error_has_exact_shape() {
        let response = GraphError::unlicensed().render(&ids());
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let text = text_of(response).await;
        let prefix = r#"{"error":{"code":"Forbidden","message":"UnknownError","innerError":{"date":""#;
        assert!(text.starts_with(prefix), "{text}");
        assert!(text.ends_with(r#"","request-id":"r-1","client-request-id":"c-1"}}}"#), "{text}");

        let body: Value = serde_json::from_str(&text).expect("JSON body");
        let date = body["error"]["innerError"]["date"].as_str().expect("date");
        assert!(chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(), "{date}");
    }

    #[tokio::test]
    async fn unauthorized_sends_www_authenticate() {
        let response = GraphError::token_missing().render(&ids());
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(body_of(response).await["error"]["message"], "Access token is empty.");
    }

    #[tokio::test]
    async fn token_error_starts_with_aadsts() {
        let error =
            TokenError::new(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, "Invalid client secret provided.");
        let body = body_of(error.render(&ids())).await;
        assert_eq!(body["error"], "invalid_client");
        let description = body["error_description"].as_str().expect("description");
        assert!(description.starts_with("AADSTS7000215: Invalid client secret provided."), "{description}");
        assert_eq!(body["error_codes"][0], 7000215);
    }

    #[test]
    fn request_ids_are_distinct_guids() {
        let source = RequestIdSource::default();
        let first = source.next_id();
        let second = source.next_id();
        assert_ne!(first, second);
        assert_eq!(first.len(), 36);
        assert_eq!(&first[14..15], "4", "{first}");
        assert!(matches!(&first[19..20], "8" | "9" | "a" | "b"), "{first}");
    }
}

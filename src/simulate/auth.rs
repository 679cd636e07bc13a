//! The simulated Entra ID token endpoint (client-credentials grant) and the bearer-token check
//! that every Graph endpoint runs first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;

use super::errors::{GraphError, RequestIds, TokenError, json_response};
use super::server::{AppState, ServerOptions};

/// The application id of Microsoft Graph, which also names its resource in scopes.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The application permissions the issued tokens carry in `roles`.
const ROLES: [&str; 2] = ["AiEnterpriseInteraction.Read.All", "User.Read.All"];

/// The access tokens this server issued, with the instant each expires.
#[derive(Debug, Default)]
pub(super) struct TokenStore {
    issued: Mutex<HashMap<String, Instant>>,
    counter: AtomicU64,
}

impl TokenStore {
    /// Issues an unsigned JWT-shaped token for `tenant` and `client_id`, valid for `ttl`.
    fn issue(&self, tenant: &str, client_id: &str, ttl: Duration) -> String {
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        let now = Utc::now().timestamp();
        let claims = Claims {
            aud: GRAPH_RESOURCE,
            iss: format!("https://sts.windows.net/{tenant}/"),
            iat: now,
            nbf: now,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            appid: client_id,
            idtyp: "app",
            roles: ROLES,
            tid: tenant,
            uti: format!("simulator-{number}"),
            ver: "1.0",
        };
        let header = r#"{"typ":"JWT","alg":"none","kid":"copilot-lake-simulator"}"#;
        // `Claims` contains only strings, integers and a string array, which always serialize.
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signature = format!("unsigned-{number}");
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        );

        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        // Dropping expired tokens here keeps the map as small as the set of live tokens.
        issued.retain(|_, expires| *expires > now);
        issued.insert(token.clone(), now + ttl);
        token
    }

    /// Checks the `Authorization: Bearer` header against the issued, unexpired tokens.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), GraphError> {
        let value = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).unwrap_or_default();
        let token = match value.get(..6) {
            Some(scheme) if scheme.eq_ignore_ascii_case("bearer") => value[6..].trim(),
            _ => value.trim(),
        };
        if token.is_empty() {
            return Err(GraphError::token_missing());
        }
        let issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        match issued.get(token) {
            Some(expires) if *expires > Instant::now() => Ok(()),
            _ => Err(GraphError::token_rejected()),
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    appid: &'a str,
    idtyp: &'a str,
    roles: [&'a str; 2],
    tid: &'a str,
    uti: String,
    ver: &'a str,
}

#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(super) async fn issue_token(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Extension(ids): Extension<RequestIds>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match check_token_request(&state.options, &tenant, &form) {
        Ok(client_id) => {
            let ttl = state.options.token_ttl;
            let access_token = state.tokens.issue(&tenant, &client_id, ttl);
            tracing::debug!(%tenant, %client_id, request_id = %ids.request_id, "issued an access token");
            let body = TokenResponse {
                token_type: "Bearer",
                expires_in: ttl.as_secs(),
                ext_expires_in: ttl.as_secs(),
                access_token,
            };
            json_response(StatusCode::OK, &body)
        }
        Err(error) => {
            tracing::debug!(%tenant, aadsts = error.aadsts, request_id = %ids.request_id, "rejected a token request");
            error.render(&ids)
        }
    }
}

/// Validates a client-credentials request and returns the client id. The checks run tenant,
/// grant type, client id, scope, then credential. NOTE: Entra ID does not document its order,
/// so a request with several faults may get another error there.
fn check_token_request(
    options: &ServerOptions,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<String, TokenError> {
    if let Some(expected) = &options.tenant_id
        && !expected.eq_ignore_ascii_case(tenant)
    {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    let grant_type = required(form, "grant_type")?;
    if grant_type != "client_credentials" {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = required(form, "client_id")?;
    check_scope(required(form, "scope")?)?;
    if let Some(expected) = &options.client_id
        && expected != client_id
    {
        return Err(TokenError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        ));
    }
    check_credential(options, tenant, client_id, form)?;
    Ok(client_id.to_owned())
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, TokenError> {
    match form.get(name).map(String::as_str) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )),
    }
}

/// Client credentials need `<resource>/.default`, and the resource must be Microsoft Graph.
fn check_scope(scope: &str) -> Result<(), TokenError> {
    let Some(resource) = scope.strip_suffix("/.default") else {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    let resource = resource.trim_end_matches('/');
    if resource != GRAPH_RESOURCE && resource != GRAPH_APP_ID {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!("The resource principal named {resource} was not found in the tenant."),
        ));
    }
    Ok(())
}

/// Accepts a client secret, checked when the server has one, or a client assertion: one signed
/// with a certificate is verified against `ServerOptions::client_certificate` when set, others
/// are checked for JWT shape (see [`super::assertion`]).
fn check_credential(
    options: &ServerOptions,
    tenant: &str,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<(), TokenError> {
    if let Some(assertion) = form.get("client_assertion") {
        let assertion_type = form.get("client_assertion_type").map(String::as_str).unwrap_or_default();
        if assertion_type != CLIENT_ASSERTION_TYPE {
            return Err(TokenError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                format!("Invalid client_assertion_type '{assertion_type}'. Expected '{CLIENT_ASSERTION_TYPE}'."),
            ));
        }
        let audience = super::assertion::Audience { tenant };
        let certificate = options.client_certificate.as_deref();
        return super::assertion::check_assertion(assertion, client_id, &audience, certificate, Utc::now().timestamp());
    }
    let Some(secret) = form.get("client_secret").filter(|secret| !secret.is_empty()) else {
        return Err(TokenError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    match &options.client_secret {
        Some(expected) if expected != secret => Err(TokenError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    fn valid_form() -> HashMap<String, String> {
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app-1"),
            ("client_secret", "s3cret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
    }

    fn strict_options() -> ServerOptions {
        ServerOptions {
            tenant_id: Some("tenant-1".into()),
            client_id: Some("app-1".into()),
            client_secret: Some("s3cret".into()),
            ..ServerOptions::default()
        }
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));
        headers
    }

    #[test]
    fn valid_request_returns_client_id() {
        assert_eq!(check_token_request(&strict_options(), "tenant-1", &valid_form()).expect("accepted"), "app-1");
    }

    #[test]
    fn token_request_errors() {
        let options = strict_options();
        let mut wrong_secret = valid_form();
        wrong_secret.insert("client_secret".into(), "nope".into());
        let mut wrong_client = valid_form();
        wrong_client.insert("client_id".into(), "app-2".into());
        let mut no_scope = valid_form();
        no_scope.remove("scope");
        let mut bad_scope = valid_form();
        bad_scope.insert("scope".into(), "https://graph.microsoft.com/User.Read".into());
        let mut no_secret = valid_form();
        no_secret.remove("client_secret");

        let cases = [
            ("tenant-2", valid_form(), 400, "invalid_request", 90002),
            ("tenant-1", wrong_secret, 401, "invalid_client", 7000215),
            ("tenant-1", wrong_client, 401, "invalid_client", 700016),
            ("tenant-1", no_scope, 400, "invalid_request", 900144),
            ("tenant-1", bad_scope, 400, "invalid_scope", 1002012),
            ("tenant-1", no_secret, 401, "invalid_client", 7000218),
        ];
        for (tenant, request, status, error, aadsts) in cases {
            let rejected = check_token_request(&options, tenant, &request).expect_err("rejected");
            assert_eq!(rejected.status.as_u16(), status, "AADSTS{aadsts}");
            assert_eq!(rejected.error, error, "AADSTS{aadsts}");
            assert_eq!(rejected.aadsts, aadsts);
        }
    }

    #[test]
    fn open_server_accepts_any_secret_and_assertion() {
        let options = ServerOptions::default();
        let mut request = valid_form();
        request.insert("client_secret".into(), "anything".into());
        assert!(check_token_request(&options, "any-tenant", &request).is_ok());

        request.remove("client_secret");
        request.insert("client_assertion".into(), "a.b.c".into());
        request.insert("client_assertion_type".into(), CLIENT_ASSERTION_TYPE.into());
        assert!(check_token_request(&options, "any-tenant", &request).is_ok());
    }

    #[test]
    fn issued_token_has_claims_and_authorizes() {
        let store = TokenStore::default();
        let token = store.issue("tenant-1", "app-1", Duration::from_secs(60));
        let payload = token.split('.').nth(1).expect("payload");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON");
        assert_eq!(claims["aud"], "https://graph.microsoft.com");
        assert_eq!(claims["tid"], "tenant-1");
        assert_eq!(claims["appid"], "app-1");
        assert_eq!(claims["roles"][0], "AiEnterpriseInteraction.Read.All");
        assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 60);

        assert!(store.authorize(&bearer(&token)).is_ok());
        let forged = store.authorize(&bearer("a.b.c")).expect_err("unknown token");
        assert_eq!(forged.message, "Access token has expired or is not yet valid.");
        let missing = store.authorize(&HeaderMap::new()).expect_err("no header");
        assert_eq!(missing.message, "Access token is empty.");
    }

    #[test]
    fn expired_token_is_rejected() {
        let store = TokenStore::default();
        let token = store.issue("t", "c", Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(40));
        let error = store.authorize(&bearer(&token)).expect_err("expired");
        assert_eq!(error.status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.code, "InvalidAuthenticationToken");
    }

    #[tokio::test]
    async fn token_endpoint_over_http() {
        use crate::simulate::dataset::Dataset;
        use crate::simulate::test_support::Harness;

        let harness = Harness::start_with(Dataset::empty(), strict_options()).await;
        let response = harness.request_token("tenant-1", "app-1", "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["error"], "invalid_client");
        let description = body["error_description"].as_str().expect("description");
        assert!(description.starts_with("AADSTS7000215: Invalid client secret provided."), "{description}");

        let response = harness.request_token("tenant-2", "app-1", "s3cret").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert!(body["error_description"].as_str().expect("description").starts_with("AADSTS90002:"));

        let response = harness.request_token("TENANT-1", "app-1", "s3cret").await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["ext_expires_in"], 3600);
        assert_eq!(body["access_token"].as_str().expect("token").split('.').count(), 3);
    }
}

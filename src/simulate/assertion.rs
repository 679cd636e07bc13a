//! Checks of client assertions at the simulated token endpoint. An assertion with an
//! `x5t#S256` header names a certificate, so it is verified against the configured certificate
//! as Entra ID does. Other assertions are taken as federated tokens and checked for JWT shape.

use std::path::Path;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;

use super::errors::TokenError;

/// Clock skew allowed on `nbf` and `exp`, as Entra ID allows.
const SKEW_SECONDS: i64 = 300;

/// Reads the first certificate of a PEM file, for `--client-certificate` of `simulate`.
pub fn load_certificate(path: &Path) -> Result<Vec<u8>, String> {
    let certificate = CertificateDer::pem_file_iter(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?
        .next()
        .ok_or_else(|| format!("{} contains no PEM CERTIFICATE block", path.display()))?
        .map_err(|error| format!("{} has an invalid CERTIFICATE block: {error}", path.display()))?;
    Ok(certificate.as_ref().to_vec())
}

/// The token request's view of where it was sent: the tenant of the path.
pub(super) struct Audience<'a> {
    pub(super) tenant: &'a str,
}

/// Checks `assertion` for `client_id`. With `certificate`, an assertion that names a
/// certificate must carry its thumbprint, RS256, a valid signature, `iss` = `sub` = the client
/// id, the token endpoint as `aud`, a `jti`, and a valid time range.
pub(super) fn check_assertion(
    assertion: &str,
    client_id: &str,
    audience: &Audience<'_>,
    certificate: Option<&[u8]>,
    now: i64,
) -> Result<(), TokenError> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err(malformed());
    };
    let header = decode_json(header).ok();
    let Some(thumbprint) = header.as_ref().and_then(|header| header.get("x5t#S256")).and_then(Value::as_str) else {
        // A federated token: its issuer, not this simulator, signed it.
        return Ok(());
    };
    let Some(certificate) = certificate else {
        return Ok(());
    };

    let expected = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, certificate));
    if thumbprint != expected {
        return Err(invalid_client(
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}']"
            ),
        ));
    }
    if header.as_ref().and_then(|header| header.get("alg")).and_then(Value::as_str) != Some("RS256") {
        return Err(invalid_client(
            700027,
            "Client assertion contains an invalid signature algorithm; expected RS256.",
        ));
    }
    check_signature(certificate, &format!("{}.{}", parts[0], parts[1]), signature)?;
    check_claims(&decode_json(claims)?, client_id, audience, now)
}

fn check_signature(certificate: &[u8], signed: &str, signature: &str) -> Result<(), TokenError> {
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
    let der = CertificateDer::from(certificate);
    let parsed = webpki::EndEntityCert::try_from(&der)
        .map_err(|_| invalid_client(700027, "The registered certificate cannot be parsed."))?;
    parsed
        .verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .map_err(|_| invalid_client(700027, "Client assertion failed signature validation."))
}

fn check_claims(claims: &Value, client_id: &str, audience: &Audience<'_>, now: i64) -> Result<(), TokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text("iss") != client_id || text("sub") != client_id {
        return Err(invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let expected_path = format!("/{}/oauth2/v2.0/token", audience.tenant);
    let audience_path = url::Url::parse(text("aud")).map(|url| url.path().to_owned()).unwrap_or_default();
    if !audience_path.eq_ignore_ascii_case(&expected_path) {
        return Err(invalid_client(
            700212,
            format!("The client assertion audience '{}' is not the token endpoint.", text("aud")),
        ));
    }
    if text("jti").is_empty() {
        return Err(invalid_client(700025, "Client assertion has no 'jti' claim."));
    }
    let (Some(not_before), Some(expires)) = (number("nbf"), number("exp")) else {
        return Err(malformed());
    };
    if not_before > now + SKEW_SECONDS || expires < now - SKEW_SECONDS {
        return Err(invalid_client(700024, "Client assertion is not within its valid time range."));
    }
    Ok(())
}

fn decode_json(part: &str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
}

fn malformed() -> TokenError {
    invalid_client(50027, "JWT token is invalid or malformed.")
}

fn invalid_client(aadsts: u32, description: impl Into<String>) -> TokenError {
    TokenError::new(StatusCode::UNAUTHORIZED, "invalid_client", aadsts, description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::certificate::ClientCertificate;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certificates").join(name)
    }

    const NOW: i64 = 1_800_000_000;
    const ENDPOINT: &str = "http://127.0.0.1:8080/contoso/oauth2/v2.0/token";

    fn signed(client_id: &str, endpoint: &str, now: i64) -> String {
        let certificate = ClientCertificate::load(&fixture("client-combined.pem"), None, None).expect("loads");
        certificate.assertion(client_id, endpoint, now).expect("signed").expose().to_owned()
    }

    fn check(assertion: &str) -> Result<(), TokenError> {
        let der = load_certificate(&fixture("client.crt")).expect("certificate");
        check_assertion(assertion, "app-1", &Audience { tenant: "contoso" }, Some(&der), NOW)
    }

    #[test]
    fn valid_assertion_passes() {
        assert!(check(&signed("app-1", ENDPOINT, NOW)).is_ok());
    }

    #[test]
    fn each_fault_has_its_aadsts() {
        let tampered = {
            let assertion = signed("app-1", ENDPOINT, NOW);
            let mut parts: Vec<String> = assertion.split('.').map(str::to_owned).collect();
            let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("utf8");
            parts[1] = URL_SAFE_NO_PAD.encode(claims.replace("app-1", "app-2"));
            parts.join(".")
        };
        let cases = [
            (signed("app-2", ENDPOINT, NOW), 700021),
            (signed("app-1", "http://127.0.0.1:8080/other/oauth2/v2.0/token", NOW), 700212),
            (signed("app-1", ENDPOINT, NOW - 3600), 700024),
            (tampered, 700027),
            ("not-a-jwt".to_owned(), 50027),
        ];
        for (assertion, aadsts) in cases {
            let error = check(&assertion).expect_err("rejected");
            assert_eq!(error.aadsts, aadsts, "{}", error.description);
        }
    }

    #[test]
    fn other_certificate_is_not_registered() {
        let other = ClientCertificate::load(&fixture("client.crt"), Some(&fixture("client.key")), None).expect("loads");
        let assertion = other.assertion("app-1", ENDPOINT, NOW).expect("signed");
        // Same certificate: accepted. A different registered certificate: thumbprint mismatch.
        assert!(check(assertion.expose()).is_ok());
        let unrelated = vec![0x30, 0x03, 0x02, 0x01, 0x01];
        let error =
            check_assertion(assertion.expose(), "app-1", &Audience { tenant: "contoso" }, Some(&unrelated), NOW)
                .expect_err("wrong certificate");
        assert_eq!(error.aadsts, 700027);
    }

    #[test]
    fn federated_token_needs_only_shape() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k8s"}"#);
        let claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"system:serviceaccount:ns:sa"}"#);
        assert!(check(&format!("{header}.{claims}.sig")).is_ok());
    }
}

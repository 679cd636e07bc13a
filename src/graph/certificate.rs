//! Client-certificate credentials: the certificate and RSA key of an app registration, and the
//! signed JWT (client assertion) that replaces the client secret in the token request.
//!
//! Entra ID identifies the certificate by the `x5t#S256` header, the base64url SHA-256 of the
//! certificate's DER bytes, and checks the RS256 signature with the public key it stores.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::auth::Secret;

/// How long a signed assertion is valid. Entra ID accepts up to a few hours; ten minutes is
/// what MSAL uses, and each token request signs a new one.
const ASSERTION_LIFETIME_SECONDS: i64 = 600;

/// The environment variable that holds the passphrase of an encrypted private key. It is not a
/// flag, so the passphrase stays out of process listings.
pub const PASSPHRASE_ENV: &str = "COPILOT_LAKE_CLIENT_CERTIFICATE_PASSPHRASE";

const ENCRYPTED_KEY_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_KEY_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The certificate's thumbprint and the private key that signs assertions.
pub struct ClientCertificate {
    path: PathBuf,
    thumbprint: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("path", &self.path)
            .field("x5t#S256", &self.thumbprint)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl ClientCertificate {
    /// Loads the first certificate of `certificate_path` and the private key of `key_path`, or
    /// of the certificate file when `key_path` is `None`. An encrypted PKCS#8 key needs
    /// `passphrase`. Errors name the file and the fix.
    pub fn load(certificate_path: &Path, key_path: Option<&Path>, passphrase: Option<&Secret>) -> Result<Self, String> {
        let certificate_pem = read(certificate_path)?;
        let certificate = CertificateDer::pem_slice_iter(&certificate_pem)
            .next()
            .ok_or_else(|| format!("{} contains no PEM CERTIFICATE block", certificate_path.display()))?
            .map_err(|error| format!("{} has an invalid CERTIFICATE block: {error}", certificate_path.display()))?;

        let key_path = key_path.unwrap_or(certificate_path);
        let key_pem = if key_path == certificate_path { certificate_pem.clone() } else { read(key_path)? };
        let key = load_key(key_path, &key_pem, passphrase)?;
        check_key_matches(&certificate, &key, certificate_path, key_path)?;

        let digest = ring::digest::digest(&ring::digest::SHA256, certificate.as_ref());
        Ok(ClientCertificate {
            path: certificate_path.to_owned(),
            thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            key,
        })
    }

    /// The `x5t#S256` thumbprint: base64url SHA-256 of the certificate's DER bytes.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// Signs a client assertion for `client_id`, addressed to the token endpoint `audience`,
    /// valid from `now` (Unix seconds) for ten minutes.
    pub fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Result<Secret, String> {
        let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5t#S256": self.thumbprint });
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": super::client::new_request_id(),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = sign(&self.key, signing_input.as_bytes())?;
        Ok(Secret::new(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

fn sign(key: &RsaKeyPair, message: &[u8]) -> Result<Vec<u8>, String> {
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
        .map_err(|_| "signing the client assertion failed".to_owned())?;
    Ok(signature)
}

/// Reads an RSA key from PKCS#8 (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with `passphrase`)
/// or PKCS#1 (`RSA PRIVATE KEY`).
fn load_key(path: &Path, pem: &[u8], passphrase: Option<&Secret>) -> Result<RsaKeyPair, String> {
    let text = String::from_utf8_lossy(pem);
    let shown = path.display();
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{shown} holds a key in OpenSSL's legacy encrypted format; convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD.pem -out NEW.pem`"
        ));
    }
    if let Some(block) = encrypted_block(&text) {
        let Some(passphrase) = passphrase else {
            return Err(format!("the private key in {shown} is encrypted; put its passphrase in {}", PASSPHRASE_ENV));
        };
        let (_, der) = pkcs8::der::pem::decode_vec(block.as_bytes())
            .map_err(|error| format!("{shown} has an invalid ENCRYPTED PRIVATE KEY block: {error}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|error| format!("{shown} has an invalid ENCRYPTED PRIVATE KEY block: {error}"))?;
        let decrypted = info.decrypt(passphrase.expose()).map_err(|_| {
            format!(
                "cannot decrypt the private key in {shown}: the passphrase in {} is wrong, or the cipher is not PBES2 with AES",
                PASSPHRASE_ENV
            )
        })?;
        return RsaKeyPair::from_pkcs8(decrypted.as_bytes()).map_err(|error| rejected_key(path, error));
    }
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|error| {
        format!("{shown} contains no usable PEM private key ({error}); give the key with --client-certificate-key")
    })?;
    match &key {
        PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
        _ => {
            return Err(format!(
                "the private key in {shown} is not an RSA key; Entra ID certificate credentials need RSA (2048 bits or more)"
            ));
        }
    }
    .map_err(|error| rejected_key(path, error))
}

fn rejected_key(path: &Path, error: ring::error::KeyRejected) -> String {
    format!(
        "the private key in {} is not a usable RSA key ({error}); Entra ID certificate credentials need RSA of 2048 bits or more",
        path.display()
    )
}

/// Returns the `ENCRYPTED PRIVATE KEY` PEM block of a file that may hold other blocks too.
fn encrypted_block(text: &str) -> Option<&str> {
    let start = text.find(ENCRYPTED_KEY_BEGIN)?;
    let end = text[start..].find(ENCRYPTED_KEY_END)? + start + ENCRYPTED_KEY_END.len();
    Some(&text[start..end])
}

/// Signs a probe with the key and verifies it with the certificate's public key, so a key
/// that belongs to another certificate fails here with the file names instead of as an
/// AADSTS error at the token endpoint.
fn check_key_matches(
    certificate: &CertificateDer<'_>,
    key: &RsaKeyPair,
    certificate_path: &Path,
    key_path: &Path,
) -> Result<(), String> {
    let parsed = match webpki::EndEntityCert::try_from(certificate) {
        Ok(parsed) => parsed,
        Err(error) => {
            // NOTE: webpki rejects some certificates that Entra ID accepts (unusual critical
            // extensions, for one); the token endpoint then is the only check.
            tracing::warn!(certificate = %certificate_path.display(), %error, "cannot parse the client certificate to check it against the key");
            return Ok(());
        }
    };
    let probe = b"copilot-lake certificate and key check";
    let signature = sign(key, probe)?;
    parsed.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, probe, &signature).map_err(|_| {
        format!(
            "the private key in {} does not belong to the certificate in {}; give the matching key with --client-certificate-key",
            key_path.display(),
            certificate_path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certificates").join(name)
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    }

    #[test]
    fn assertion_has_header_claims_and_valid_signature() {
        let certificate = ClientCertificate::load(&fixture("client.crt"), Some(&fixture("client.key")), None)
            .expect("certificate loads");
        let der =
            CertificateDer::pem_file_iter(fixture("client.crt")).expect("file").next().expect("one").expect("der");
        let expected = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, der.as_ref()));
        assert_eq!(certificate.thumbprint(), expected);

        let endpoint = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token";
        let assertion = certificate.assertion("app-1", endpoint, 1_800_000_000).expect("signed");
        let parts: Vec<&str> = assertion.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], expected.as_str());
        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], endpoint);
        assert_eq!(claims["iss"], "app-1");
        assert_eq!(claims["sub"], "app-1");
        assert_eq!(claims["nbf"], 1_800_000_000);
        assert_eq!(claims["exp"], 1_800_000_600);
        assert_eq!(claims["jti"].as_str().expect("jti").len(), 36);

        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
        let parsed = webpki::EndEntityCert::try_from(&der).expect("parsed");
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(
            parsed.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature).is_ok()
        );
    }

    #[test]
    fn key_formats_load() {
        let passphrase = Secret::new("fixture-passphrase");
        let cases: [(&str, Option<&str>, Option<&Secret>); 4] = [
            ("client.crt", Some("client.key"), None),
            ("client.crt", Some("client-pkcs1.key"), None),
            ("client-combined.pem", None, None),
            ("client.crt", Some("client-encrypted.key"), Some(&passphrase)),
        ];
        for (certificate, key, passphrase) in cases {
            let key = key.map(fixture);
            let loaded = ClientCertificate::load(&fixture(certificate), key.as_deref(), passphrase);
            assert!(loaded.is_ok(), "{certificate} {key:?}: {:?}", loaded.err());
        }
    }

    #[test]
    fn key_problems_name_the_fix() {
        let crt = fixture("client.crt");
        let encrypted = fixture("client-encrypted.key");
        let error = ClientCertificate::load(&crt, Some(&encrypted), None).expect_err("no passphrase");
        assert!(error.contains(PASSPHRASE_ENV), "{error}");

        let wrong = Secret::new("wrong-passphrase");
        let error = ClientCertificate::load(&crt, Some(&encrypted), Some(&wrong)).expect_err("wrong passphrase");
        assert!(error.contains("passphrase"), "{error}");
        assert!(!error.contains("wrong-passphrase"), "the passphrase leaked: {error}");

        let error = ClientCertificate::load(&crt, Some(&fixture("other.key")), None).expect_err("other key");
        assert!(error.contains("does not belong to the certificate"), "{error}");

        let error = ClientCertificate::load(&crt, None, None).expect_err("no key in the certificate file");
        assert!(error.contains("--client-certificate-key"), "{error}");

        let error = ClientCertificate::load(&fixture("client.key"), None, None).expect_err("no certificate");
        assert!(error.contains("no PEM CERTIFICATE block"), "{error}");
    }

    #[test]
    fn debug_hides_the_key() {
        let certificate = ClientCertificate::load(&fixture("client-combined.pem"), None, None).expect("loads");
        let text = format!("{certificate:?}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(!text.contains("MII"), "{text}");
    }
}

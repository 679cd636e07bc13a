//! The secret key of the privacy controls, read from a file, and its HMAC-SHA256.

use std::path::Path;

use ring::hmac;

/// The minimum length of a key in bytes: 32 bytes is the output size of SHA-256, and shorter
/// keys are usually passwords that a guesser can try.
pub const MIN_KEY_BYTES: usize = 32;

/// A secret HMAC-SHA256 key read from a file. `Debug` never shows it.
#[derive(Clone)]
pub struct PrivacyKey {
    key: hmac::Key,
}

impl std::fmt::Debug for PrivacyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivacyKey(<redacted>)")
    }
}

impl PrivacyKey {
    /// Makes a key of `bytes`, which must be at least [`MIN_KEY_BYTES`] long.
    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!("holds {} byte(s), fewer than the {MIN_KEY_BYTES} a key needs", bytes.len()));
        }
        Ok(PrivacyKey { key: hmac::Key::new(hmac::HMAC_SHA256, bytes) })
    }

    /// Reads a key file: its bytes without leading and trailing ASCII whitespace, so the line
    /// that `openssl rand -hex 32 > FILE` writes is a key of 64 bytes. Errors name `flag` and the
    /// path, never the content.
    pub fn read(flag: &str, path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path)
            .map_err(|error| format!("cannot read the {flag} key file {}: {error}", path.display()))?;
        PrivacyKey::new(bytes.trim_ascii()).map_err(|reason| {
            format!(
                "the {flag} key file {} {reason}; create one with `openssl rand -hex 32 > {}`",
                path.display(),
                path.display()
            )
        })
    }

    /// Returns an identifier of the key that reveals nothing about it: the first 16 hex digits
    /// of the hash of a fixed text. The lake stores it to recognize the key of later runs.
    pub fn fingerprint(&self) -> String {
        let mut hash = self.hash_hex("copilot-lake key fingerprint");
        hash.truncate(16);
        hash
    }

    /// Returns HMAC-SHA256 of `text` under this key, in lower-case hex.
    pub fn hash_hex(&self, text: &str) -> String {
        let tag = hmac::sign(&self.key, text.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in tag.as_ref() {
            hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        hex
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key() -> PrivacyKey {
        PrivacyKey::new(KEY).expect("32-byte key")
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2 uses the 4-byte key "Jefe", shorter than a key file may be.
        let key = PrivacyKey { key: hmac::Key::new(hmac::HMAC_SHA256, b"Jefe") };
        assert_eq!(
            key.hash_hex("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn short_key_is_refused() {
        let error = PrivacyKey::new(b"password").expect_err("8 bytes");
        assert!(error.contains("8 byte(s)"), "{error}");
    }

    #[test]
    fn key_file_is_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, [KEY, b"\n"].concat()).expect("write");
        let from_file = PrivacyKey::read("--pseudonymize-users", &path).expect("key");
        assert_eq!(from_file.hash_hex("x"), key().hash_hex("x"));

        std::fs::write(&path, b"short\n").expect("write");
        let error = PrivacyKey::read("--pseudonymize-users", &path).expect_err("short");
        assert!(error.contains("openssl rand -hex 32"), "{error}");
        assert!(!error.contains("short\n"), "{error}");
    }
}

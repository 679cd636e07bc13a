//! Validation of the raw `sync` flags into a plan the run trusts. Every error names the flag,
//! the value and the fix, and maps to exit code 2.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use url::Url;

use crate::cli::SyncArgs;
use crate::graph::InteractionQuery;
use crate::graph::auth::{Credential, Secret};
use crate::graph::certificate::{ClientCertificate, PASSPHRASE_ENV};
use crate::graph::permissions::UserListing;
use crate::graph::retry::RetryConfig;
use crate::graph::users::parse_users_file;
use crate::privacy::{ContentMode, Privacy, PrivacyKey};
use crate::sink::WriteOptions;
use crate::sink::store::StoreOptions;

/// The environment variable that holds the client secret.
pub const CLIENT_SECRET_ENV: &str = "COPILOT_LAKE_CLIENT_SECRET";

/// Which users a run covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Users(Vec<String>),
    Group(String),
    Licensed(Vec<String>),
}

impl Scope {
    /// How the scope finds its users, which decides the directory permission the run needs.
    pub fn user_listing(&self) -> UserListing {
        match self {
            Scope::Users(_) => UserListing::None,
            Scope::Group(_) => UserListing::GroupMembers,
            Scope::Licensed(_) => UserListing::LicensedUsers,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub lake: String,
    pub store_options: StoreOptions,
    pub credential: Credential,
    pub graph_url: Url,
    pub scope: Scope,
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    pub initial_lookback: Duration,
    pub lookback: Duration,
    pub wait_for_lock: Duration,
    pub lock_ttl: Duration,
    pub query: InteractionQuery,
    pub max_requests_per_second: f64,
    pub concurrency: usize,
    pub retry: RetryConfig,
    pub write: WriteOptions,
    pub summary: Option<PathBuf>,
    pub dry_run: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// `--content`, `--pseudonymize-users` and `--content-key-file`.
    pub privacy: Privacy,
}

/// An invalid flag or setting.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

impl SyncPlan {
    /// Validates the flags. `secret_from_env` is the value of `COPILOT_LAKE_CLIENT_SECRET`.
    pub fn from_args(args: &SyncArgs, secret_from_env: Option<String>) -> Result<Self, ConfigError> {
        let graph_url = endpoint_url("--graph-url", &args.graph_url)?;
        let authority_url = endpoint_url("--authority-url", &args.authority_url)?;
        let credential = credential(args, authority_url, secret_from_env)?;
        let since = args.since.as_deref().map(|text| parse_time("--since", text)).transpose()?;
        let settle = parse_duration("--settle", &args.settle)?;
        let until = match args.until.as_deref() {
            Some(text) => parse_time("--until", text)?,
            None => Utc::now() - chrono::Duration::from_std(settle).map_err(|e| invalid(e.to_string()))?,
        };
        if let Some(since) = since.filter(|since| *since >= until) {
            return Err(invalid(format!(
                "--since {since} is not before --until {until}; the window [since, until) would be empty"
            )));
        }
        if !(args.max_requests_per_second > 0.0 && args.max_requests_per_second.is_finite()) {
            return Err(invalid(format!(
                "invalid --max-requests-per-second {}: give a positive number, such as 25",
                args.max_requests_per_second
            )));
        }
        let concurrency = concurrency(args.concurrency, args.max_requests_per_second)?;

        Ok(SyncPlan {
            lake: args.out.clone(),
            store_options: StoreOptions::parse(&args.store_options).map_err(ConfigError)?,
            credential,
            graph_url,
            scope: scope(args)?,
            since,
            until,
            initial_lookback: parse_duration("--initial-lookback", &args.initial_lookback)?,
            lookback: parse_duration("--lookback", &args.lookback)?,
            wait_for_lock: parse_duration("--wait-for-lock", &args.wait_for_lock)?,
            lock_ttl: lock_ttl(&args.lock_ttl)?,
            query: InteractionQuery { app_classes: args.app_classes.clone(), model: args.model.clone() },
            max_requests_per_second: args.max_requests_per_second,
            concurrency,
            retry: RetryConfig {
                max_retries: args.max_retries,
                max_elapsed: parse_duration("--max-retry-time", &args.max_retry_time)?,
                ..RetryConfig::default()
            },
            write: WriteOptions {
                codec: args.compression,
                target_file_size: parse_size("--target-file-size", &args.target_file_size)?,
                ..WriteOptions::default()
            },
            summary: args.summary.clone(),
            dry_run: args.dry_run,
            progress: !args.no_progress && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            privacy: privacy(args)?,
        })
    }
}

/// Reads the key files and combines the privacy flags. `--content hash` takes the
/// `--content-key-file` key, or else the `--pseudonymize-users` key.
fn privacy(args: &SyncArgs) -> Result<Privacy, ConfigError> {
    let user_key = args
        .pseudonymize_users
        .as_deref()
        .map(|path| PrivacyKey::read("--pseudonymize-users", path))
        .transpose()
        .map_err(ConfigError)?;
    let content_key = match &args.content_key_file {
        Some(path) => Some(PrivacyKey::read("--content-key-file", path).map_err(ConfigError)?),
        None if args.content == ContentMode::Hash => user_key.clone(),
        None => None,
    };
    Privacy::new(args.content, content_key, user_key).map_err(ConfigError)
}

/// Parses a Graph or authority URL. Plain http would send the token in clear text, so it is
/// accepted only for loopback hosts, where simulators run.
pub fn endpoint_url(flag: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|error| invalid(format!("invalid {flag} '{text}': {error}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(invalid(format!(
            "{flag} '{text}' uses plain http; use https, or a loopback address (127.0.0.1, [::1], localhost) for a simulator"
        ))),
        other => Err(invalid(format!("invalid {flag} '{text}': scheme '{other}' is not http or https"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Picks the credential, the first that is configured: --access-token-file, --client-certificate,
/// a client secret (--client-secret-file or COPILOT_LAKE_CLIENT_SECRET), then a federated token
/// file (--federated-token-file or AZURE_FEDERATED_TOKEN_FILE).
fn credential(args: &SyncArgs, authority: Url, secret_from_env: Option<String>) -> Result<Credential, ConfigError> {
    if let Some(path) = &args.access_token_file {
        return Ok(Credential::TokenFile(path.clone()));
    }
    if let Some(path) = &args.client_certificate {
        let passphrase = env_value(PASSPHRASE_ENV).map(Secret::new);
        let certificate = ClientCertificate::load(path, args.client_certificate_key.as_deref(), passphrase.as_ref())
            .map_err(|message| invalid(format!("invalid --client-certificate: {message}")))?;
        let (tenant_id, client_id) = app_ids(args, "the client certificate")?;
        return Ok(Credential::Certificate { authority, tenant_id, client_id, certificate: Arc::new(certificate) });
    }
    let secret = match (&args.client_secret_file, secret_from_env) {
        (Some(path), _) => Some(read_secret_file(path)?),
        (None, Some(secret)) if !secret.trim().is_empty() => Some(Secret::new(secret.trim())),
        _ => None,
    };
    if let Some(secret) = secret {
        let (tenant_id, client_id) = app_ids(args, "the client secret")?;
        return Ok(Credential::ClientSecret { authority, tenant_id, client_id, secret });
    }
    if let Some(token_file) = &args.federated_token_file {
        let (tenant_id, client_id) = app_ids(args, "the federated token")?;
        return Ok(Credential::FederatedToken { authority, tenant_id, client_id, token_file: token_file.clone() });
    }
    Err(invalid(format!(
        "no credentials: set {CLIENT_SECRET_ENV}, or pass --client-secret-file, --client-certificate, --federated-token-file or --access-token-file"
    )))
}

/// Returns the tenant and client ids: the flags (or their COPILOT_LAKE_ variables), else
/// AZURE_TENANT_ID and AZURE_CLIENT_ID, which Azure workload identity and the Azure SDKs use.
fn app_ids(args: &SyncArgs, credential: &str) -> Result<(String, String), ConfigError> {
    let required = |flag: &str, value: &Option<String>, fallback: &str| {
        value.clone().filter(|v| !v.trim().is_empty()).or_else(|| env_value(fallback)).ok_or_else(|| {
            invalid(format!("missing {flag}: {credential} needs the app registration's {flag} (or {fallback})"))
        })
    };
    Ok((
        required("--tenant-id", &args.tenant_id, "AZURE_TENANT_ID")?,
        required("--client-id", &args.client_id, "AZURE_CLIENT_ID")?,
    ))
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// `--concurrency`, or by default enough users in flight to keep the budget busy when a page
/// takes 1.5 s: pages of one user are sequential, so requests in flight equal users in flight.
/// NOTE: 1.5 s is an estimate of a slow page of 100 records, not a measured Graph latency.
fn concurrency(flag: Option<usize>, max_requests_per_second: f64) -> Result<usize, ConfigError> {
    match flag {
        Some(0) => Err(invalid("invalid --concurrency 0: give at least 1")),
        Some(value) => Ok(value),
        None => Ok(((max_requests_per_second * 1.5).ceil() as usize).clamp(1, 64)),
    }
}

fn read_secret_file(path: &PathBuf) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| invalid(format!("cannot read --client-secret-file {}: {error}", path.display())))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(invalid(format!("--client-secret-file {} is empty", path.display())));
    }
    Ok(Secret::new(secret))
}

fn scope(args: &SyncArgs) -> Result<Scope, ConfigError> {
    let mut users = args.users.clone();
    if let Some(path) = &args.users_file {
        let text = std::fs::read_to_string(path)
            .map_err(|error| invalid(format!("cannot read --users-file {}: {error}", path.display())))?;
        let listed = parse_users_file(&text);
        if listed.is_empty() {
            return Err(invalid(format!("--users-file {} lists no users", path.display())));
        }
        users.extend(listed);
    }
    if let Some(group) = &args.group {
        if !users.is_empty() {
            return Err(invalid("--group cannot be combined with --user or --users-file; choose one scope"));
        }
        return Ok(Scope::Group(group.clone()));
    }
    if !users.is_empty() {
        users.sort();
        users.dedup();
        return Ok(Scope::Users(users));
    }
    if args.license_skus.is_empty() {
        return Err(invalid("no scope: give --user, --users-file, --group or --license-sku"));
    }
    Ok(Scope::Licensed(args.license_skus.clone()))
}

fn lock_ttl(text: &str) -> Result<Duration, ConfigError> {
    let ttl = parse_duration("--lock-ttl", text)?;
    if ttl < Duration::from_secs(1) {
        return Err(invalid(format!("invalid --lock-ttl '{text}': use at least 1s, such as 5m")));
    }
    Ok(ttl)
}

/// Parses RFC 3339, or `YYYY-MM-DD` as midnight UTC.
pub fn parse_time(flag: &str, text: &str) -> Result<DateTime<Utc>, ConfigError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(invalid(format!("invalid {flag} '{text}': use RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01), in UTC")))
}

pub fn parse_duration(flag: &str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text)
        .map_err(|error| invalid(format!("invalid {flag} '{text}': {error}; use a duration such as 30d, 12h or 15m")))
}

/// Parses a byte size such as `128MiB`, `64MB` or `1048576`.
pub fn parse_size(flag: &str, text: &str) -> Result<usize, ConfigError> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => 0,
    };
    let value = number.parse::<u64>().ok().and_then(|n| n.checked_mul(multiplier));
    match value.and_then(|bytes| usize::try_from(bytes).ok()) {
        Some(bytes) if bytes >= 1024 => Ok(bytes),
        _ => Err(invalid(format!("invalid {flag} '{text}': use a size of at least 1KiB, such as 128MiB or 64MB"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> SyncArgs {
        let mut argv = vec!["copilot-lake", "sync", "--out", "/tmp/lake", "--tenant-id", "t", "--client-id", "c"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).expect("valid flags").command {
            crate::cli::Command::Sync(args) => *args,
            _ => unreachable!("sync was parsed"),
        }
    }

    fn plan(extra: &[&str]) -> Result<SyncPlan, ConfigError> {
        SyncPlan::from_args(&args(extra), Some("secret".into()))
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(plan(&["--graph-url", "http://127.0.0.1:8080/v1.0", "--since", "2026-11-01"]).is_ok());
        assert!(plan(&["--graph-url", "http://localhost:8080/v1.0"]).is_ok());
        let error = plan(&["--graph-url", "http://graph.example.com/v1.0"]).expect_err("http");
        assert!(error.0.contains("plain http"), "{error}");
        assert!(error.0.contains("'http://graph.example.com/v1.0'"), "{error}");
    }

    #[test]
    fn missing_secret_names_the_options() {
        let error = SyncPlan::from_args(&args(&[]), None).expect_err("no secret");
        assert!(error.0.contains(CLIENT_SECRET_ENV), "{error}");
    }

    #[test]
    fn dates_parse_as_utc_midnight() {
        let plan = plan(&["--since", "2026-11-01", "--until", "2026-12-01T06:30:00+02:00"]).expect("plan");
        assert_eq!(plan.since.map(|t| t.to_rfc3339()), Some("2026-11-01T00:00:00+00:00".into()));
        assert_eq!(plan.until.to_rfc3339(), "2026-12-01T04:30:00+00:00");
    }

    #[test]
    fn empty_window_is_rejected() {
        let error = plan(&["--since", "2026-12-01", "--until", "2026-11-01"]).expect_err("empty");
        assert!(error.0.contains("not before --until"), "{error}");
    }

    #[test]
    fn bad_time_names_value_and_format() {
        let error = plan(&["--since", "yesterday"]).expect_err("bad time");
        assert!(error.0.contains("'yesterday'") && error.0.contains("RFC 3339"), "{error}");
    }

    #[test]
    fn users_override_licenses() {
        let plan = plan(&["--user", "b", "--user", "a", "--user", "b"]).expect("plan");
        assert_eq!(plan.scope, Scope::Users(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn default_scope_is_copilot_license() {
        let plan = plan(&[]).expect("plan");
        assert_eq!(plan.scope, Scope::Licensed(vec![crate::graph::users::COPILOT_SKU.into()]));
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("--x", "128MiB").expect("size"), 128 << 20);
        assert_eq!(parse_size("--x", "64MB").expect("size"), 64_000_000);
        assert_eq!(parse_size("--x", "4096").expect("size"), 4096);
        assert!(parse_size("--x", "12parsecs").is_err());
        assert!(parse_size("--x", "1").is_err());
    }

    #[test]
    fn store_options_are_key_value_pairs() {
        let parsed = plan(&["--store-option", "endpoint=http://127.0.0.1:3900", "--store-option", "region=garage"])
            .expect("plan");
        assert_eq!(format!("{:?}", parsed.store_options), r#"["endpoint", "region"]"#);
        let error = plan(&["--store-option", "region"]).expect_err("no '='");
        assert!(error.0.contains("KEY=VALUE"), "{error}");
    }

    #[test]
    fn concurrency_follows_the_rate() {
        assert_eq!(plan(&[]).expect("plan").concurrency, 38);
        assert_eq!(plan(&["--max-requests-per-second", "2"]).expect("plan").concurrency, 3);
        assert_eq!(plan(&["--max-requests-per-second", "500"]).expect("plan").concurrency, 64);
        assert_eq!(plan(&["--concurrency", "5"]).expect("plan").concurrency, 5);
        assert!(plan(&["--concurrency", "0"]).is_err());
    }

    #[test]
    fn retry_flags_set_the_policy() {
        assert_eq!(plan(&[]).expect("plan").retry, RetryConfig::default());
        let retry = plan(&["--max-retries", "3", "--max-retry-time", "90s"]).expect("plan").retry;
        assert_eq!(retry.max_retries, 3);
        assert_eq!(retry.max_elapsed, Duration::from_secs(90));
        let error = plan(&["--max-retry-time", "soon"]).expect_err("bad duration");
        assert!(error.0.contains("--max-retry-time 'soon'"), "{error}");
    }

    fn certificate_fixture(name: &str) -> String {
        format!("{}/tests/fixtures/certificates/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn certificate_wins_over_secret() {
        let combined = certificate_fixture("client-combined.pem");
        let parsed = plan(&["--client-certificate", &combined]).expect("plan");
        assert!(matches!(parsed.credential, Credential::Certificate { .. }), "{:?}", parsed.credential);

        let crt = certificate_fixture("client.crt");
        let error = plan(&["--client-certificate", &crt]).expect_err("no key in the file");
        assert!(error.0.starts_with("invalid --client-certificate:"), "{error}");
        assert!(error.0.contains("--client-certificate-key"), "{error}");
    }

    #[test]
    fn federated_token_is_the_last_choice() {
        let federated = plan(&["--federated-token-file", "/var/run/secrets/azure/tokens/azure-identity-token"]);
        assert!(matches!(federated.expect("plan").credential, Credential::ClientSecret { .. }));
        let parsed = SyncPlan::from_args(&args(&["--federated-token-file", "/token"]), None).expect("plan");
        match parsed.credential {
            Credential::FederatedToken { tenant_id, client_id, token_file, .. } => {
                assert_eq!((tenant_id.as_str(), client_id.as_str()), ("t", "c"));
                assert_eq!(token_file, PathBuf::from("/token"));
            }
            other => panic!("expected a federated token, got {other:?}"),
        }
    }

    #[test]
    fn debug_of_plan_hides_secrets() {
        let plan = SyncPlan::from_args(&args(&[]), Some("plan-secret-value".into())).expect("plan");
        let text = format!("{plan:?}");
        assert!(text.contains("Secret(<redacted>)"), "{text}");
        assert!(!text.contains("plan-secret-value"), "{text}");

        let combined = certificate_fixture("client-combined.pem");
        let plan = SyncPlan::from_args(&args(&["--client-certificate", &combined]), None).expect("plan");
        let text = format!("{plan:?}");
        assert!(text.contains("x5t#S256"), "{text}");
        assert!(!text.contains("PRIVATE KEY") && !text.contains("MII"), "{text}");
    }
}

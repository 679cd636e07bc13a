//! A simulator of the Microsoft Graph endpoints the connector uses: the Entra ID token endpoint,
//! `/users`, and getAllEnterpriseInteractions, with Graph's paging, filters and error bodies.
//!
//! It serves generated or loaded data on a local address, for `copilot-lake demo`, the tests and
//! users without a tenant (`copilot-lake simulate`).

pub mod assertion;
mod auth;
mod content;
pub mod dataset;
mod errors;
pub mod faults;
mod generate;
mod interactions;
pub mod late;
mod query;
mod records;
pub mod server;
mod session;
mod users;

#[cfg(test)]
mod test_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};

pub use dataset::{COPILOT_SKU_ID, Dataset, DatasetError, GenerateOptions, SimRecord, SimUser};
pub use server::{RunningSimulator, ServerOptions, start};

/// The environment variable that contains the only client secret the token endpoint accepts. It is
/// not a flag, so the secret stays out of process listings.
pub const CLIENT_SECRET_ENV: &str = "COPILOT_LAKE_CLIENT_SECRET";

/// Options of `copilot-lake simulate`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Address to listen on, as IP:PORT.
    #[arg(long, env = "COPILOT_LAKE_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,

    /// Seed of the generated data: the same seed and sizes give the same users and records.
    #[arg(long, env = "COPILOT_LAKE_SEED", default_value_t = 42)]
    pub seed: u64,

    /// Number of users with a Microsoft 365 Copilot license, each with an interaction history.
    #[arg(long, env = "COPILOT_LAKE_USERS", default_value_t = 36)]
    pub users: usize,

    /// Number of users without the license, in addition to --users. Graph returns 403 for them.
    #[arg(long, env = "COPILOT_LAKE_UNLICENSED_USERS", default_value_t = 4)]
    pub unlicensed_users: usize,

    /// Approximate number of records in each licensed user's history.
    #[arg(long, env = "COPILOT_LAKE_INTERACTIONS_PER_USER", default_value_t = 100)]
    pub interactions_per_user: usize,

    /// Start of the generated records (inclusive), as RFC 3339 or YYYY-MM-DD (midnight UTC).
    #[arg(long, env = "COPILOT_LAKE_START", default_value = "2026-10-01", value_parser = parse_instant)]
    pub start: DateTime<Utc>,

    /// End of the generated records (exclusive), as RFC 3339 or YYYY-MM-DD (midnight UTC).
    #[arg(long, env = "COPILOT_LAKE_END", default_value = "2026-12-01", value_parser = parse_instant)]
    pub end: DateTime<Utc>,

    /// Serve the records in FILE (a JSON array, a page with `value`, or one record) for USER, an
    /// id or user principal name, adding the user if needed. Repeatable; commas separate
    /// several in the environment variable.
    #[arg(long = "records", env = "COPILOT_LAKE_RECORDS", value_name = "USER=FILE", value_parser = parse_user_file, value_delimiter = ',')]
    pub records: Vec<UserFile>,

    /// Serve FILE verbatim as the next page of USER's history, in the order given. Pages that
    /// are JSON objects get their @odata.nextLink rewritten to reach the next page. Repeatable.
    #[arg(long = "pages", env = "COPILOT_LAKE_PAGES", value_name = "USER=FILE", value_parser = parse_user_file, value_delimiter = ',')]
    pub pages: Vec<UserFile>,

    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, env = "COPILOT_LAKE_TOKEN_TTL", default_value_t = 3600, value_name = "SECONDS")]
    pub token_ttl: u64,

    /// The only tenant id the token endpoint accepts. Without it, any tenant is accepted.
    #[arg(long, env = "COPILOT_LAKE_TENANT_ID")]
    pub tenant_id: Option<String>,

    /// The only client id the token endpoint accepts. Without it, any client id is accepted.
    #[arg(long, env = "COPILOT_LAKE_CLIENT_ID")]
    pub client_id: Option<String>,

    /// A PEM file with the app's certificate: client assertions that name a certificate (x5t#S256) must be signed by its key. Without it, assertions are checked for shape only.
    #[arg(long, env = "COPILOT_LAKE_CLIENT_CERTIFICATE", value_name = "PEM")]
    pub client_certificate: Option<PathBuf>,

    #[command(flatten)]
    pub faults: faults::FaultArgs,
}

/// A `USER=FILE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFile {
    pub user: String,
    pub path: PathBuf,
}

/// Builds the dataset, starts the server, logs how to point `sync` at it, and serves until
/// Ctrl-C.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    if args.start >= args.end {
        bail!("--start ({}) must be before --end ({})", args.start.to_rfc3339(), args.end.to_rfc3339());
    }
    let dataset = build_dataset(&args)?;
    let options = ServerOptions {
        tenant_id: args.tenant_id.clone(),
        client_id: args.client_id.clone(),
        client_secret: std::env::var(CLIENT_SECRET_ENV).ok().filter(|secret| !secret.is_empty()),
        token_ttl: Duration::from_secs(args.token_ttl),
        faults: args.faults.options(args.seed),
        client_certificate: args
            .client_certificate
            .as_deref()
            .map(assertion::load_certificate)
            .transpose()
            .map_err(|message| anyhow::anyhow!("invalid --client-certificate: {message}"))?,
        ..ServerOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;

    let users = dataset.users.len();
    let licensed = dataset.licensed_users().count();
    let records: usize = dataset.records.values().map(Vec::len).sum();
    let secret_checked = options.client_secret.is_some();
    let tenant = options.tenant_id.clone().unwrap_or_else(|| "contoso".to_owned());
    let client = options.client_id.clone().unwrap_or_else(|| "copilot-lake".to_owned());
    let simulator = start(Arc::new(dataset), options, listener).await.context("failed to start the simulator")?;

    let base_url = simulator.base_url();
    tracing::info!(addr = %simulator.addr, users, licensed, records, "simulator listening");
    tracing::info!(graph_url = %simulator.graph_url(), authority_url = %base_url, %tenant, "point sync at these URLs");
    let secret_hint = if secret_checked { "the secret in COPILOT_LAKE_CLIENT_SECRET" } else { "any secret" };
    tracing::info!(
        "sync it with (the simulator accepts {secret_hint}): COPILOT_LAKE_CLIENT_SECRET=... copilot-lake sync --out ./copilot-lake-simulated --graph-url {} --authority-url {base_url} --tenant-id {tenant} --client-id {client} --since {} --until {}",
        simulator.graph_url(),
        format_instant(args.start),
        format_instant(args.end),
    );

    tokio::signal::ctrl_c().await.context("failed to wait for Ctrl-C")?;
    tracing::info!("Ctrl-C received, stopping the simulator");
    simulator.shutdown().await;
    Ok(())
}

/// Generates the tenant, then adds the records and raw pages named on the command line.
pub fn build_dataset(args: &SimulateArgs) -> anyhow::Result<Dataset> {
    let mut dataset = Dataset::generate(&GenerateOptions {
        seed: args.seed,
        users: args.users,
        unlicensed_users: args.unlicensed_users,
        interactions_per_user: args.interactions_per_user,
        start: args.start,
        end: args.end,
    });
    for UserFile { user, path } in &args.records {
        dataset.add_records_file(user, path)?;
    }
    for UserFile { user, path } in &args.pages {
        let page = std::fs::read(path).with_context(|| format!("failed to read page file {}", path.display()))?;
        dataset.add_raw_pages(user, vec![bytes::Bytes::from(page)]);
    }
    Ok(dataset)
}

/// Parses RFC 3339, or a date `YYYY-MM-DD` taken as midnight UTC.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.to_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| format!("invalid time '{text}': expected RFC 3339 (2026-10-01T00:00:00Z) or YYYY-MM-DD"))
}

/// Formats midnight as YYYY-MM-DD and other instants as RFC 3339, the forms `sync` reads.
fn format_instant(instant: DateTime<Utc>) -> String {
    if instant.time() == chrono::NaiveTime::MIN {
        instant.format("%Y-%m-%d").to_string()
    } else {
        instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    }
}

fn parse_user_file(text: &str) -> Result<UserFile, String> {
    match text.split_once('=') {
        Some((user, path)) if !user.is_empty() && !path.is_empty() => {
            Ok(UserFile { user: user.to_owned(), path: PathBuf::from(path) })
        }
        _ => Err(format!("invalid value '{text}': expected USER=FILE")),
    }
}

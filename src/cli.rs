//! Raw command-line flags, as clap parses them. `sync::plan` validates them into a plan the run
//! trusts. Every flag also reads `COPILOT_LAKE_<FLAG>` from the environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::graph::users::COPILOT_SKU;
use crate::sink::Codec;

#[derive(Debug, Parser)]
#[command(name = "copilot-lake", version, about = "Lands Microsoft 365 Copilot interaction history in a Parquet data lake")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text", env = "COPILOT_LAKE_LOG_FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync interaction history from Microsoft Graph into the lake.
    Sync(Box<SyncArgs>),
    /// Run the embedded Graph simulator and sync it into a local lake; no account needed.
    Demo(DemoArgs),
    /// Serve the Graph simulator over HTTP, for trying `sync` without a tenant.
    Simulate(crate::simulate::SimulateArgs),
    /// Print the lake's table schemas.
    Schema(SchemaArgs),
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The lake: a local folder, file://, s3://bucket/prefix, az://container/prefix, abfss://… or gs://bucket/prefix.
    #[arg(long, env = "COPILOT_LAKE_OUT")]
    pub out: String,

    /// The Entra tenant (directory) id or domain.
    #[arg(long, env = "COPILOT_LAKE_TENANT_ID")]
    pub tenant_id: Option<String>,

    /// The application (client) id of the app registration.
    #[arg(long, env = "COPILOT_LAKE_CLIENT_ID")]
    pub client_id: Option<String>,

    /// A file that holds the client secret. The secret can also come from COPILOT_LAKE_CLIENT_SECRET; it is never accepted as a flag value.
    #[arg(long, env = "COPILOT_LAKE_CLIENT_SECRET_FILE")]
    pub client_secret_file: Option<PathBuf>,

    /// A file that holds a ready bearer token for Graph, used instead of the client credentials. It is read again when the token nears expiry.
    #[arg(long, env = "COPILOT_LAKE_ACCESS_TOKEN_FILE")]
    pub access_token_file: Option<PathBuf>,

    /// A user id or UPN to sync (repeatable). Overrides the license listing.
    #[arg(long = "user", env = "COPILOT_LAKE_USER", value_delimiter = ',')]
    pub users: Vec<String>,

    /// A file with one user id or UPN a line ('#' starts a comment).
    #[arg(long, env = "COPILOT_LAKE_USERS_FILE")]
    pub users_file: Option<PathBuf>,

    /// An Entra group id: sync its members, nested groups included.
    #[arg(long, env = "COPILOT_LAKE_GROUP")]
    pub group: Option<String>,

    /// Sync every user holding this license SKU id (repeatable). Default: the Microsoft 365 Copilot SKU.
    #[arg(long = "license-sku", env = "COPILOT_LAKE_LICENSE_SKU", value_delimiter = ',', default_value = COPILOT_SKU)]
    pub license_skus: Vec<String>,

    /// Start of the window (inclusive), RFC 3339 or YYYY-MM-DD in UTC. Without it each user continues from the lake's stored state.
    #[arg(long, env = "COPILOT_LAKE_SINCE")]
    pub since: Option<String>,

    /// End of the window (exclusive), RFC 3339 or YYYY-MM-DD in UTC. Default: now minus --settle.
    #[arg(long, env = "COPILOT_LAKE_UNTIL")]
    pub until: Option<String>,

    /// How far back a user without stored state starts when --since is not given (e.g. 30d, 12h).
    #[arg(long, env = "COPILOT_LAKE_INITIAL_LOOKBACK", default_value = "30d")]
    pub initial_lookback: String,

    /// How long before now the default --until ends, so records still being written settle first (e.g. 15m).
    #[arg(long, env = "COPILOT_LAKE_SETTLE", default_value = "15m")]
    pub settle: String,

    /// Sync only this appClass, e.g. IPM.SkypeTeams.Message.Copilot.Word (repeatable; joined with `or`).
    #[arg(long = "app-class", env = "COPILOT_LAKE_APP_CLASS", value_delimiter = ',')]
    pub app_classes: Vec<String>,

    /// The legacy licensing-model query parameter (A or B), sent only when set.
    #[arg(long, env = "COPILOT_LAKE_MODEL", value_parser = ["A", "B"])]
    pub model: Option<String>,

    /// The Graph base URL. Plain http is accepted only for loopback addresses.
    #[arg(long, env = "COPILOT_LAKE_GRAPH_URL", default_value = "https://graph.microsoft.com/v1.0")]
    pub graph_url: String,

    /// The Entra ID authority that issues tokens. Plain http is accepted only for loopback addresses.
    #[arg(long, env = "COPILOT_LAKE_AUTHORITY_URL", default_value = "https://login.microsoftonline.com")]
    pub authority_url: String,

    /// Requests per second across the whole run; 25 is Graph's sustained per-tenant limit for this API.
    #[arg(long, env = "COPILOT_LAKE_MAX_REQUESTS_PER_SECOND", default_value_t = 25.0)]
    pub max_requests_per_second: f64,

    /// Users read at the same time.
    #[arg(long, env = "COPILOT_LAKE_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,

    /// Parquet compression codec.
    #[arg(long, env = "COPILOT_LAKE_COMPRESSION", value_enum, default_value = "zstd")]
    pub compression: Codec,

    /// Roughly how large a data file grows before a new one starts, before compression (e.g. 128MiB).
    #[arg(long, env = "COPILOT_LAKE_TARGET_FILE_SIZE", default_value = "128MiB")]
    pub target_file_size: String,

    /// Write a JSON run summary to this path.
    #[arg(long, env = "COPILOT_LAKE_SUMMARY")]
    pub summary: Option<PathBuf>,

    /// Resolve users and windows, print the plan, and write nothing.
    #[arg(long, env = "COPILOT_LAKE_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The local folder of the demo lake.
    #[arg(long, env = "COPILOT_LAKE_OUT", default_value = "copilot-lake-demo")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Output format: JSON, DuckDB views, or Spark tables.
    #[arg(long, env = "COPILOT_LAKE_FORMAT", value_enum, default_value = "json")]
    pub format: SchemaFormat,

    /// The lake location written into the DuckDB and Spark DDL.
    #[arg(long, env = "COPILOT_LAKE_LAKE", default_value = "copilot-lake-demo")]
    pub lake: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    Json,
    Duckdb,
    Spark,
}

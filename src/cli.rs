//! Raw command-line flags, as clap parses them. `sync::plan` validates them into a plan the run
//! trusts. Every flag also reads `COPILOT_LAKE_<FLAG>` from the environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::graph::retry::RetryConfig;
use crate::graph::users::COPILOT_SKU;
use crate::sink::Codec;

#[derive(Debug, Parser)]
#[command(
    name = "copilot-lake",
    version,
    about = "Lands Microsoft 365 Copilot interaction history in a Parquet data lake"
)]
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
    /// Merge the small files of partitions into files near --target-file-size.
    Compact(CompactArgs),
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The lake: a local folder, file://, s3://bucket/prefix, az://container/prefix, abfss://… or gs://bucket/prefix.
    #[arg(long, env = "COPILOT_LAKE_OUT")]
    pub out: String,

    /// An object-store setting KEY=VALUE (repeatable), such as endpoint=http://127.0.0.1:3900: a config key of object_store's builder for the --out scheme (AmazonS3ConfigKey, AzureConfigKey, GoogleConfigKey), or max_retries / retry_timeout. It overrides the AWS_*, AZURE_* and GOOGLE_* variables; keep secrets in those variables, because command lines are visible to other users.
    #[arg(long = "store-option", env = "COPILOT_LAKE_STORE_OPTION", value_delimiter = ',', hide_env_values = true)]
    pub store_options: Vec<String>,

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

    /// A PEM file with the app registration's certificate, used instead of a client secret. It may hold the RSA private key too; an encrypted key's passphrase comes from COPILOT_LAKE_CLIENT_CERTIFICATE_PASSPHRASE.
    #[arg(long, env = "COPILOT_LAKE_CLIENT_CERTIFICATE")]
    pub client_certificate: Option<PathBuf>,

    /// A PEM file with the certificate's private key (PKCS#8, encrypted PKCS#8 or PKCS#1), when --client-certificate does not hold it.
    #[arg(long, env = "COPILOT_LAKE_CLIENT_CERTIFICATE_KEY", requires = "client_certificate")]
    pub client_certificate_key: Option<PathBuf>,

    /// A file with a federated token (Azure workload identity), sent as the client assertion. AKS sets AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID, which stand in for this flag, --client-id and --tenant-id.
    #[arg(long, env = "AZURE_FEDERATED_TOKEN_FILE")]
    pub federated_token_file: Option<PathBuf>,

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

    /// How far before each user's cursor a scheduled run starts reading again, to catch records that appear late (e.g. 1h, 0s). Records already in the lake are skipped.
    #[arg(long, env = "COPILOT_LAKE_LOOKBACK", default_value = "1h")]
    pub lookback: String,

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

    /// Users read at the same time. Default: enough to keep the request budget busy when a page takes 1.5 s, that is --max-requests-per-second × 1.5 (38 at 25), at most 64.
    #[arg(long, env = "COPILOT_LAKE_CONCURRENCY")]
    pub concurrency: Option<usize>,

    /// Retries of a failed Graph or token request (throttling, 5xx, resets, timeouts, truncated bodies) before its user fails.
    #[arg(long, env = "COPILOT_LAKE_MAX_RETRIES", default_value_t = RetryConfig::default().max_retries)]
    pub max_retries: u32,

    /// The longest time one request may spend on retries (e.g. 10m); no retry starts that would end later.
    #[arg(long, env = "COPILOT_LAKE_MAX_RETRY_TIME", default_value_t = humantime::format_duration(RetryConfig::default().max_elapsed).to_string())]
    pub max_retry_time: String,

    /// Parquet compression codec.
    #[arg(long, env = "COPILOT_LAKE_COMPRESSION", value_enum, default_value = "zstd")]
    pub compression: Codec,

    /// Roughly how large a data file grows before a new one starts, before compression (e.g. 128MiB).
    #[arg(long, env = "COPILOT_LAKE_TARGET_FILE_SIZE", default_value = "128MiB")]
    pub target_file_size: String,

    /// How long to wait for another run on the same lake to finish (e.g. 30m); by default a second run fails at once.
    #[arg(long, env = "COPILOT_LAKE_WAIT_FOR_LOCK", default_value = "0s")]
    pub wait_for_lock: String,

    /// Lifetime of the lake's lock lease; a run renews it while alive, and a crashed run's lock expires after it.
    #[arg(long, env = "COPILOT_LAKE_LOCK_TTL", default_value = "5m")]
    pub lock_ttl: String,

    /// Write a JSON run summary to this path.
    #[arg(long, env = "COPILOT_LAKE_SUMMARY")]
    pub summary: Option<PathBuf>,

    /// What the lake keeps of message text (body content, attachment content, mention text, body_text): the text, its HMAC-SHA256 under the content key in hex (equal texts still match), or null.
    #[arg(long, env = "COPILOT_LAKE_CONTENT", value_enum, default_value = "keep")]
    pub content: crate::privacy::ContentMode,

    /// Replace user ids and display names (user_id, from_user_*, mentioned_user_*) with their HMAC-SHA256 in hex under the key in this file (at least 32 bytes; create it with `openssl rand -hex 32`). Use the same key for every run on a lake.
    #[arg(long, env = "COPILOT_LAKE_PSEUDONYMIZE_USERS", value_name = "KEY_FILE")]
    pub pseudonymize_users: Option<PathBuf>,

    /// The key file of --content hash (at least 32 bytes). Default: the --pseudonymize-users key.
    #[arg(long, env = "COPILOT_LAKE_CONTENT_KEY_FILE", value_name = "KEY_FILE")]
    pub content_key_file: Option<PathBuf>,

    /// Do not show the progress bar (it shows only when stderr is a terminal).
    #[arg(long, env = "COPILOT_LAKE_NO_PROGRESS")]
    pub no_progress: bool,

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
    /// Output format: JSON, DuckDB views, Spark tables, or Trino tables of the Hive connector.
    #[arg(long, env = "COPILOT_LAKE_FORMAT", value_enum, default_value = "json")]
    pub format: SchemaFormat,

    /// The lake location written into the DuckDB, Spark and Trino DDL. Trino needs an absolute URI, such as s3://bucket/prefix.
    #[arg(long, env = "COPILOT_LAKE_LAKE", default_value = "copilot-lake-demo")]
    pub lake: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    Json,
    Duckdb,
    Spark,
    Trino,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The lake, as for sync.
    #[arg(long, env = "COPILOT_LAKE_OUT")]
    pub out: String,

    /// An object-store setting KEY=VALUE (repeatable), as for sync.
    #[arg(long = "store-option", env = "COPILOT_LAKE_STORE_OPTION", value_delimiter = ',', hide_env_values = true)]
    pub store_options: Vec<String>,

    /// Compact only this table (repeatable): interactions, contexts, attachments, links or mentions. Default: all.
    #[arg(long = "table", env = "COPILOT_LAKE_TABLE", value_delimiter = ',')]
    pub tables: Vec<String>,

    /// First partition date to compact (YYYY-MM-DD, inclusive).
    #[arg(long, env = "COPILOT_LAKE_FROM")]
    pub from: Option<String>,

    /// Last partition date to compact (YYYY-MM-DD, inclusive).
    #[arg(long, env = "COPILOT_LAKE_TO")]
    pub to: Option<String>,

    /// Roughly how large a compacted file grows before a new one starts (e.g. 128MiB).
    #[arg(long, env = "COPILOT_LAKE_TARGET_FILE_SIZE", default_value = "128MiB")]
    pub target_file_size: String,

    /// Parquet compression codec.
    #[arg(long, env = "COPILOT_LAKE_COMPRESSION", value_enum, default_value = "zstd")]
    pub compression: Codec,

    /// How long to wait for another run on the same lake to finish (e.g. 30m).
    #[arg(long, env = "COPILOT_LAKE_WAIT_FOR_LOCK", default_value = "0s")]
    pub wait_for_lock: String,

    /// Lifetime of the lake's lock lease.
    #[arg(long, env = "COPILOT_LAKE_LOCK_TTL", default_value = "5m")]
    pub lock_ttl: String,
}

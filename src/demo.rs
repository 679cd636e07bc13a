//! `copilot-lake demo`: the embedded simulator synced into a local lake, with no account.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use url::Url;

use crate::cli::DemoArgs;
use crate::graph::InteractionQuery;
use crate::graph::auth::{Credential, Secret};
use crate::graph::users::COPILOT_SKU;
use crate::simulate::dataset::{Dataset, GenerateOptions};
use crate::simulate::server::{self, ServerOptions};
use crate::sink::WriteOptions;
use crate::sync::summary::RunSummary;
use crate::sync::{self, Scope, SyncPlan};

/// The file that marks a folder as a demo lake, which the next demo may replace.
const DEMO_MARKER: &str = "_copilot_lake/demo";

pub async fn run(args: DemoArgs) -> anyhow::Result<RunSummary> {
    prepare_folder(&args.out)?;
    let options = GenerateOptions::default();
    let dataset = Arc::new(Dataset::generate(&options));
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot open a loopback port for the simulator")?;
    let simulator =
        server::start(dataset, ServerOptions::default(), listener).await.context("cannot start the simulator")?;

    let plan = SyncPlan {
        lake: args.out.display().to_string(),
        store_options: crate::sink::store::StoreOptions::default(),
        credential: Credential::ClientSecret {
            authority: Url::parse(&simulator.base_url())?,
            tenant_id: "demo-tenant".into(),
            client_id: "demo-client".into(),
            secret: Secret::new("demo-secret"),
        },
        graph_url: Url::parse(&simulator.graph_url())?,
        scope: Scope::Licensed(vec![COPILOT_SKU.into()]),
        since: Some(options.start),
        until: options.end,
        initial_lookback: std::time::Duration::from_secs(30 * 86_400),
        lookback: std::time::Duration::ZERO,
        wait_for_lock: std::time::Duration::ZERO,
        lock_ttl: std::time::Duration::from_secs(300),
        query: InteractionQuery::default(),
        max_requests_per_second: 200.0,
        concurrency: 16,
        retry: crate::graph::retry::RetryConfig::default(),
        write: WriteOptions::default(),
        summary: None,
        dry_run: false,
        progress: false,
        privacy: crate::privacy::Privacy::default(),
    };
    let result = sync::run(plan, crate::sync::signals::StopFlag::never()).await;
    simulator.shutdown().await;
    let summary = result?;
    std::fs::write(args.out.join(DEMO_MARKER), "")
        .with_context(|| format!("cannot mark {} as a demo lake", args.out.display()))?;
    print_report(&args.out, &summary);
    Ok(summary)
}

/// The demo writes a fresh lake: an earlier demo lake is replaced, any other non-empty folder is
/// left alone.
fn prepare_folder(out: &Path) -> anyhow::Result<()> {
    if !out.exists() {
        return Ok(());
    }
    let is_empty = out.read_dir().with_context(|| format!("cannot read {}", out.display()))?.next().is_none();
    if is_empty {
        return Ok(());
    }
    if !out.join(DEMO_MARKER).exists() {
        bail!("{} exists and is not a demo lake; pass --out with a new or empty folder", out.display());
    }
    std::fs::remove_dir_all(out).with_context(|| format!("cannot replace the old demo lake {}", out.display()))
}

fn print_report(out: &Path, summary: &RunSummary) {
    let lake = out.canonicalize().unwrap_or_else(|_| out.to_path_buf());
    println!("Demo lake written to {}", lake.display());
    println!(
        "{} users synced ({} skipped), {} requests, {} files",
        summary.users.ok,
        summary.skipped_users.len(),
        summary.requests,
        summary.files
    );
    for (table, rows) in &summary.rows {
        println!("  {table:<13} {rows:>7} rows");
    }
    let query = format!(
        "SELECT app, count(*) AS interactions FROM read_parquet('{}/interactions/**/*.parquet', hive_partitioning = true) GROUP BY app ORDER BY interactions DESC",
        lake.display()
    );
    println!("\nTry it in DuckDB:\n");
    println!("  duckdb -c \"{query}\"");
    println!("\nor, with DuckDB's Python package:\n");
    println!("  python3 -c \"import duckdb; duckdb.sql(\\\"{query}\\\").show()\"");
}

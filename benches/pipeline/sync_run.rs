//! The measured run of the end-to-end, memory and rate benchmarks: `copilot-lake sync` with the
//! given flags, through the same parsing, plan and `sync::run` as the binary's `main`.

use anyhow::{Context, bail};
use clap::Parser;
use copilot_lake::cli::{Cli, Command};
use copilot_lake::sync::{self, SyncPlan, signals::StopFlag};

use crate::measure::{RunResult, Stopwatch};

/// The client secret the child passes; the simulator and the lean server accept any.
const BENCH_SECRET: &str = "bench-secret";

/// Runs one sync with `flags` (everything after `copilot-lake sync`) and measures it.
pub fn run(flags: &[String]) -> anyhow::Result<RunResult> {
    let stopwatch = Stopwatch::start();
    let argv = ["copilot-lake", "sync"].into_iter().map(str::to_owned).chain(flags.iter().cloned());
    let cli = Cli::try_parse_from(argv)?;
    let Command::Sync(args) = cli.command else {
        bail!("expected sync flags");
    };
    let plan = SyncPlan::from_args(&args, Some(BENCH_SECRET.to_owned()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = runtime.block_on(sync::run(plan, StopFlag::never())).context("the sync failed")?;
    if summary.users.failed > 0 {
        bail!("{} user(s) failed: {:?}", summary.users.failed, summary.failed_users.first());
    }
    let interactions = summary.rows.get("interactions").copied().unwrap_or(0);
    Ok(stopwatch.stop(interactions, 0, summary.files))
}

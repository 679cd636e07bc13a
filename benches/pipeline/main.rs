//! Throughput, CPU and memory benchmarks of the pipeline, each one command:
//!
//! ```sh
//! cargo bench --bench pipeline -- offline   # saved pages -> parse -> flatten -> Parquet
//! cargo bench --bench pipeline -- e2e       # `sync` against `copilot-lake simulate`, no rate limit
//! cargo bench --bench pipeline -- memory    # 5 M interactions over 730 dates: peak RSS
//! cargo bench --bench pipeline -- rate      # CPU share of `sync` at 25 requests/s
//! ```
//!
//! Each measured run is a fresh child process (this binary again), so its peak RSS is its own.
//! The parent prints every run and the median, with the load average when the run started.
//! Data and lakes go under `target/bench-pipeline/`. docs/benchmarks.md records the results.

mod lean_server;
mod measure;
mod offline;
mod pages;
mod sync_run;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{TimeZone, Utc};
use clap::{Parser, Subcommand};
use copilot_lake::simulate::GenerateOptions;

use measure::{RESULT_PREFIX, RunResult};
use pages::LeanGenerator;

/// The copilot-lake binary that cargo built beside this bench.
const COPILOT_LAKE: &str = env!("CARGO_BIN_EXE_copilot-lake");

/// The simulator's default record window, which the e2e and rate syncs cover.
const SIM_SINCE: &str = "2026-10-01";
const SIM_UNTIL: &str = "2026-12-01";

#[derive(Parser)]
#[command(about = "Benchmarks of the copilot-lake pipeline")]
struct Args {
    #[command(subcommand)]
    command: BenchCommand,

    /// Folder for generated pages, lakes and child logs.
    #[arg(long, global = true, default_value = "target/bench-pipeline")]
    work_dir: PathBuf,

    /// Measured runs; the median is reported.
    #[arg(long, global = true, default_value_t = 3)]
    runs: usize,

    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Saved simulator pages parsed, flattened and written as the five Parquet tables.
    Offline {
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long, default_value_t = 500)]
        per_user: usize,
    },
    /// `sync` against `copilot-lake simulate` with no rate limit.
    E2e {
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long, default_value_t = 500)]
        per_user: usize,
    },
    /// `sync` of a backfill spread over many dates, served by a lean generator: peak RSS.
    Memory(MemoryArgs),
    /// `sync` against the simulator at a request budget: CPU time as a share of one core.
    Rate {
        #[arg(long, default_value_t = 25.0)]
        requests_per_second: f64,
        #[arg(long, default_value_t = 100)]
        users: usize,
        #[arg(long, default_value_t = 1000)]
        per_user: usize,
    },
    /// Writes the simulator's records as Graph pages, for the DuckDB comparison.
    SavePages {
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long, default_value_t = 500)]
        per_user: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// One measured run, started by the parent.
    #[command(subcommand, hide = true)]
    Child(ChildCommand),
}

#[derive(clap::Args, Clone, Copy)]
struct MemoryArgs {
    #[arg(long, default_value_t = 5_000_000)]
    interactions: usize,
    #[arg(long, default_value_t = 2_000)]
    users: usize,
    #[arg(long, default_value_t = 730)]
    days: i64,
    /// Users read at the same time; 38 is what `sync` picks at Graph's 25 requests/s.
    #[arg(long, default_value_t = 38)]
    concurrency: usize,
    /// The sync's request budget. Without a limit the readers outrun the writer, so every user
    /// in flight keeps its whole window in memory, which is the worst case.
    #[arg(long, default_value_t = 1_000_000.0)]
    requests_per_second: f64,
}

#[derive(Subcommand)]
enum ChildCommand {
    Offline {
        pages: PathBuf,
        out: PathBuf,
    },
    Sync {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        flags: Vec<String>,
    },
    LeanServer {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        users: usize,
        #[arg(long)]
        per_user: usize,
        #[arg(long)]
        days: i64,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let work = args.work_dir.clone();
    match args.command {
        BenchCommand::Offline { users, per_user } => bench_offline(&work, args.runs, users, per_user),
        BenchCommand::E2e { users, per_user } => bench_e2e(&work, args.runs, users, per_user),
        BenchCommand::Memory(memory) => bench_memory(&work, args.runs, &memory),
        BenchCommand::Rate { requests_per_second, users, per_user } => {
            bench_rate(&work, args.runs, requests_per_second, users, per_user)
        }
        BenchCommand::SavePages { users, per_user, out } => {
            let pages = pages::save_simulator_pages(&out, &generate_options(users, per_user))?;
            println!("wrote {pages} pages to {}", out.display());
            Ok(())
        }
        BenchCommand::Child(child) => run_child(child),
    }
}

fn run_child(child: ChildCommand) -> anyhow::Result<()> {
    match child {
        ChildCommand::Offline { pages, out } => measure::report(&offline::run(&pages, &out)?),
        ChildCommand::Sync { flags } => measure::report(&sync_run::run(&flags)?),
        ChildCommand::LeanServer { listen, users, per_user, days } => {
            let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().context("start date")?;
            let generator = LeanGenerator::new(users, per_user, start, days);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(listen).await?;
                lean_server::serve(generator, listener).await
            })?;
        }
    }
    Ok(())
}

fn generate_options(users: usize, per_user: usize) -> GenerateOptions {
    GenerateOptions { users, unlicensed_users: 0, interactions_per_user: per_user, ..GenerateOptions::default() }
}

fn bench_offline(work: &Path, runs: usize, users: usize, per_user: usize) -> anyhow::Result<()> {
    let pages = work.join(format!("pages-{users}x{per_user}"));
    if !pages.exists() {
        let partial = work.join(format!("pages-{users}x{per_user}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        let count = pages::save_simulator_pages(&partial, &generate_options(users, per_user))?;
        std::fs::rename(&partial, &pages)?;
        println!("saved {count} pages to {}", pages.display());
    }
    let lake = work.join("lake-offline");
    let results = measure_runs("offline", runs, &lake, || {
        let mut command = self_command();
        command.args(["child", "offline"]).arg(&pages).arg(&lake);
        command
    })?;
    print_summary("offline", &results, true);
    Ok(())
}

fn bench_e2e(work: &Path, runs: usize, users: usize, per_user: usize) -> anyhow::Result<()> {
    let simulator = Simulator::start(work, users, per_user)?;
    let lake = work.join("lake-e2e");
    let results = measure_runs("e2e", runs, &lake, || {
        sync_command(&simulator.base_url, &lake, &["--max-requests-per-second", "1000000"])
    })?;
    print_summary("e2e", &results, false);
    Ok(())
}

fn bench_rate(work: &Path, runs: usize, rate: f64, users: usize, per_user: usize) -> anyhow::Result<()> {
    let simulator = Simulator::start(work, users, per_user)?;
    let lake = work.join("lake-rate");
    let rate = rate.to_string();
    let results = measure_runs("rate", runs, &lake, || {
        sync_command(&simulator.base_url, &lake, &["--max-requests-per-second", &rate])
    })?;
    print_summary("rate", &results, false);
    Ok(())
}

fn bench_memory(work: &Path, runs: usize, memory: &MemoryArgs) -> anyhow::Result<()> {
    let MemoryArgs { interactions, users, days, concurrency, requests_per_second } = *memory;
    let per_user = interactions.div_ceil(users);
    let addr = free_loopback_addr()?;
    let mut server = self_command();
    server.args(["child", "lean-server", "--listen", &addr.to_string()]);
    server.args(["--users", &users.to_string(), "--per-user", &per_user.to_string(), "--days", &days.to_string()]);
    let server = ChildGuard(server.stdout(Stdio::null()).spawn().context("cannot start the lean server")?);
    wait_for_port(addr, Duration::from_secs(120))?;

    std::fs::create_dir_all(work)?;
    let users_file = work.join("memory-users.txt");
    let ids: Vec<String> = (0..users).map(LeanGenerator::user_id).collect();
    std::fs::write(&users_file, ids.join("\n"))?;
    let until = (Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().context("date")? + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string();
    let base_url = format!("http://{addr}");
    let lake = work.join("lake-memory");
    let results = measure_runs("memory", runs, &lake, || {
        let mut command = self_command();
        command.args(["child", "sync", "--", "--out"]).arg(&lake);
        command.args(["--tenant-id", "bench", "--client-id", "bench", "--graph-url", &format!("{base_url}/v1.0")]);
        command.args(["--authority-url", &base_url, "--users-file"]).arg(&users_file);
        command.args([
            "--since",
            "2025-01-01",
            "--until",
            &until,
            "--max-requests-per-second",
            &requests_per_second.to_string(),
            "--no-progress",
        ]);
        command.args(["--concurrency", &concurrency.to_string()]);
        command
    })?;
    drop(server);
    print_summary("memory", &results, false);
    Ok(())
}

fn self_command() -> Command {
    Command::new(std::env::current_exe().unwrap_or_else(|_| PathBuf::from("pipeline")))
}

fn sync_command(base_url: &str, lake: &Path, extra: &[&str]) -> Command {
    let mut command = self_command();
    command.args(["child", "sync", "--", "--out"]).arg(lake);
    command.args(["--tenant-id", "contoso", "--client-id", "bench", "--graph-url", &format!("{base_url}/v1.0")]);
    command.args(["--authority-url", base_url, "--since", SIM_SINCE, "--until", SIM_UNTIL, "--no-progress"]);
    command.args(extra);
    command
}

/// Runs `runs` fresh children, each on an empty `lake`, and collects their results.
fn measure_runs(name: &str, runs: usize, lake: &Path, command: impl Fn() -> Command) -> anyhow::Result<Vec<RunResult>> {
    let mut results = Vec::new();
    for run in 1..=runs {
        let _ = std::fs::remove_dir_all(lake);
        let load = measure::load_average();
        let log = lake.with_extension("log");
        std::fs::create_dir_all(lake.parent().unwrap_or(Path::new(".")))?;
        let stderr = std::fs::File::create(&log)?;
        let output = command().stdout(Stdio::piped()).stderr(stderr).output().context("cannot start a run")?;
        if !output.status.success() {
            bail!("{name} run {run} failed ({}); see {}", output.status, log.display());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line =
            stdout.lines().find_map(|line| line.strip_prefix(RESULT_PREFIX)).context("the run printed no result")?;
        let result: RunResult = serde_json::from_str(line)?;
        println!(
            "{name} run {run}: {:>9.0} interactions/s, {:>6.1} MB/s JSON, {:>5.2} CPU s per M, {:>6.1}% of a core, peak RSS {:>6.1} MiB, {} interactions, {} files, {:.2} s, load {load:.2}",
            result.interactions_per_second(),
            result.json_mb_per_second(),
            result.cpu_seconds_per_million(),
            result.core_share() * 100.0,
            result.peak_rss_mib,
            result.interactions,
            result.files,
            result.wall_seconds,
        );
        results.push(result);
    }
    Ok(results)
}

fn print_summary(name: &str, results: &[RunResult], with_json: bool) {
    let median = |value: fn(&RunResult) -> f64| measure::median(results.iter().map(value).collect());
    let json =
        if with_json { format!(", {:.1} MB/s JSON", median(RunResult::json_mb_per_second)) } else { String::new() };
    println!(
        "{name} median of {}: {:.0} interactions/s{json}, {:.2} CPU s per M interactions, {:.1}% of a core, peak RSS {:.1} MiB, {:.2} s",
        results.len(),
        median(RunResult::interactions_per_second),
        median(RunResult::cpu_seconds_per_million),
        median(RunResult::core_share) * 100.0,
        median(|result| result.peak_rss_mib),
        median(|result| result.wall_seconds),
    );
}

/// A `copilot-lake simulate` child on a free loopback port, stopped on drop.
struct Simulator {
    base_url: String,
    _child: ChildGuard,
}

impl Simulator {
    fn start(work: &Path, users: usize, per_user: usize) -> anyhow::Result<Simulator> {
        std::fs::create_dir_all(work)?;
        let addr = free_loopback_addr()?;
        let log = std::fs::File::create(work.join("simulator.log"))?;
        let child = Command::new(COPILOT_LAKE)
            .args(["simulate", "--listen", &addr.to_string(), "--unlicensed-users", "0"])
            .args(["--users", &users.to_string(), "--interactions-per-user", &per_user.to_string()])
            .args(["--start", SIM_SINCE, "--end", SIM_UNTIL])
            .env("COPILOT_LAKE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start copilot-lake simulate")?;
        let child = ChildGuard(child);
        wait_for_port(addr, Duration::from_secs(300))?;
        Ok(Simulator { base_url: format!("http://{addr}"), _child: child })
    }
}

/// Kills and reaps a child process on drop, so no server outlives the bench.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?)
}

fn wait_for_port(addr: SocketAddr, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if started.elapsed() > limit {
            bail!("no server listening on {addr} after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

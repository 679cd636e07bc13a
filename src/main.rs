use std::process::ExitCode;

use clap::Parser;
use copilot_lake::cli::{Cli, Command, LogFormat, SchemaFormat};
use copilot_lake::flatten::ddl;
use copilot_lake::sync::{self, SyncPlan, plan::CLIENT_SECRET_ENV};
use tracing_subscriber::EnvFilter;

/// Exit code of a run that finished but could not land some users.
const EXIT_USERS_FAILED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command))
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("COPILOT_LAKE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Sync(args) => {
            let secret = std::env::var(CLIENT_SECRET_ENV).ok();
            let plan = match SyncPlan::from_args(&args, secret) {
                Ok(plan) => plan,
                Err(error) => return fail(2, &error),
            };
            let summary_path = plan.summary.clone();
            let stop = sync::signals::install();
            match sync::run(plan, stop).await {
                Ok(summary) => {
                    if let Some(path) = summary_path {
                        let json = serde_json::to_vec_pretty(&summary).unwrap_or_default();
                        if let Err(error) = std::fs::write(&path, json) {
                            return fail(1, &format!("cannot write the summary to {}: {error}", path.display()));
                        }
                    }
                    if let Some(signal) = summary.stopped_by {
                        eprintln!(
                            "stopped by {signal:?}: {} user(s) committed, {} not started; the next run continues from there",
                            summary.users.total, summary.users.not_started
                        );
                        return ExitCode::from(signal.exit_code());
                    }
                    if summary.users.failed > 0 {
                        eprintln!("{} user(s) failed; see failed_users in the run summary", summary.users.failed);
                        return ExitCode::from(EXIT_USERS_FAILED);
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => fail(error.exit_code(), &error),
            }
        }
        Command::Demo(args) => match copilot_lake::demo::run(args).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => fail(1, &format!("{error:#}")),
        },
        Command::Simulate(args) => match copilot_lake::simulate::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(1, &format!("{error:#}")),
        },
        Command::Compact(args) => {
            let plan = match copilot_lake::compact::CompactPlan::from_args(&args) {
                Ok(plan) => plan,
                Err(error) => return fail(2, &error),
            };
            match copilot_lake::compact::run(plan).await {
                Ok(summary) => {
                    println!(
                        "compacted {} partition(s): {} files into {}, {} rows",
                        summary.partitions, summary.files_before, summary.files_after, summary.rows
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => fail(error.exit_code(), &error),
            }
        }
        Command::Schema(args) => {
            let text = match args.format {
                SchemaFormat::Json => ddl::json_schema(),
                SchemaFormat::Duckdb => ddl::duckdb_ddl(&args.lake),
                SchemaFormat::Spark => ddl::spark_ddl(&args.lake),
                SchemaFormat::Trino => ddl::trino_ddl(&args.lake),
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(code)
}

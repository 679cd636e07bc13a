//! How fully `sync` uses Graph's request budget: the real binary against the in-process
//! simulator with Graph's per-second limit and a fixed latency.
//!
//! ```sh
//! cargo bench --bench graph_rate                 # both scenarios, 300 users
//! cargo bench --bench graph_rate -- --users 100  # a shorter run
//! ```
//!
//! - `budget`: the simulator accepts 30 requests in any second (`--rate-limit 30`) and responds
//!   after 150 ms; `sync` runs with its defaults (25 requests per second, concurrency 38).
//! - `over-budget`: the same simulator, with `sync` asking for 40 per second, so throttling and
//!   the adaptive rate decide the throughput.
//!
//! Each prints requests and interactions per second over the whole run (start to commit), the
//! share of the sustained 25 requests per second, and the share of 429 answers. The results are
//! in docs/benchmarks.md.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use copilot_lake::simulate::faults::FaultOptions;
use copilot_lake::simulate::server::{self, ServerOptions};

/// Graph's sustained limit for this API, the denominator of the budget share.
const SUSTAINED_RPS: f64 = 25.0;

const SECRET: &str = "bench-secret";

struct Scenario {
    name: &'static str,
    client_flags: &'static [&'static str],
}

const SCENARIOS: [Scenario; 2] = [
    Scenario { name: "budget", client_flags: &[] },
    Scenario { name: "over-budget", client_flags: &["--max-requests-per-second", "40"] },
];

fn main() {
    let mut users = 300;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--users" => users = args.next().and_then(|value| value.parse().ok()).expect("--users takes a number"),
            "--bench" => {}
            name if !name.starts_with('-') => only = Some(name.to_owned()),
            other => {
                panic!("unknown argument {other}; use --users N and an optional scenario name")
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "| scenario | users | requests | interactions | seconds | requests/s | share of 25 rps | interactions/s | 429s | 429 share |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for scenario in SCENARIOS.iter().filter(|scenario| only.as_deref().is_none_or(|name| name == scenario.name)) {
        runtime.block_on(run(scenario, users));
    }
}

async fn run(scenario: &Scenario, users: usize) {
    let options =
        GenerateOptions { users, unlicensed_users: 0, interactions_per_user: 500, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let faults =
        FaultOptions { rate_limit: Some(30.0), latency: Duration::from_millis(150), ..FaultOptions::default() };
    let server_options = ServerOptions { client_secret: Some(SECRET.into()), faults, ..ServerOptions::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("loopback port");
    let simulator = server::start(Arc::new(dataset), server_options, listener).await.expect("simulator");

    let work = tempfile::tempdir().expect("tempdir");
    let lake = work.path().join("lake");
    let summary_path = work.path().join("summary.json");
    let mut args: Vec<String> = [
        "sync",
        "--out",
        &lake.display().to_string(),
        "--tenant-id",
        "contoso",
        "--client-id",
        "bench",
        "--graph-url",
        &simulator.graph_url(),
        "--authority-url",
        &simulator.base_url(),
        "--since",
        &options.start.to_rfc3339(),
        "--until",
        &options.end.to_rfc3339(),
        "--summary",
        &summary_path.display().to_string(),
        "--no-progress",
    ]
    .map(String::from)
    .to_vec();
    args.extend(scenario.client_flags.iter().map(|flag| (*flag).to_owned()));
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_copilot-lake"))
            .args(&args)
            .env("COPILOT_LAKE_CLIENT_SECRET", SECRET)
            .env("COPILOT_LAKE_LOG", "warn")
            .output()
            .expect("copilot-lake runs")
    })
    .await
    .expect("sync task");
    assert!(output.status.success(), "sync failed: {}", String::from_utf8_lossy(&output.stderr));
    report(scenario.name, users, &summary_path);
    simulator.shutdown().await;
}

fn report(name: &str, users: usize, summary_path: &Path) {
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(summary_path).expect("summary")).expect("summary JSON");
    let number = |value: &serde_json::Value| value.as_f64().expect("number");
    let requests = number(&summary["requests"]);
    let interactions = number(&summary["rows"]["interactions"]);
    let seconds = number(&summary["duration_seconds"]);
    let throttled = number(&summary["throttled"]);
    let rps = requests / seconds;
    println!(
        "| {name} | {users} | {requests} | {interactions} | {seconds:.1} | {rps:.2} | {:.1}% | {:.0} | {throttled} | {:.2}% |",
        100.0 * rps / SUSTAINED_RPS,
        interactions / seconds,
        100.0 * throttled / requests,
    );
}

//! What schedulers and operators rely on: JSON logs, the run summary, dry runs, exit codes and a
//! graceful stop on SIGTERM that leaves the lake exact.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use copilot_lake::simulate::server::RunningSimulator;
use serde_json::Value;

fn args(simulator: &RunningSimulator, lake: &Path, rate: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "sync",
        "--out",
        &lake.display().to_string(),
        "--tenant-id",
        "contoso",
        "--client-id",
        "test",
        "--graph-url",
        &simulator.graph_url(),
        "--authority-url",
        &simulator.base_url(),
        "--since",
        "2026-10-01",
        "--until",
        "2026-12-01",
        "--max-requests-per-second",
        rate,
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

fn binary(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_copilot-lake"));
    command.args(args).env("COPILOT_LAKE_CLIENT_SECRET", common::SECRET);
    command
}

async fn output(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || binary(&args).output().expect("runs")).await.expect("task")
}

/// Interaction keys per user in the lake.
fn keys_by_user(lake: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in common::read_table(lake, "interactions") {
        let user = row["user_id"].as_str().expect("user").to_owned();
        let key =
            format!("{}|{}", row["session_id"].as_str().expect("session"), row["interaction_id"].as_str().expect("id"));
        keys.entry(user).or_default().insert(key);
    }
    keys
}

fn expected_by_user(dataset: &Dataset, options: &GenerateOptions) -> BTreeMap<String, BTreeSet<String>> {
    dataset
        .licensed_users()
        .map(|user| {
            let keys = dataset
                .records_in_window(&user.id, options.start, options.end)
                .into_iter()
                .map(|record| {
                    format!(
                        "{}|{}",
                        record.json["sessionId"].as_str().expect("s"),
                        record.json["id"].as_str().expect("id")
                    )
                })
                .collect();
            (user.id.clone(), keys)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_and_summary_match_lake() {
    let options =
        GenerateOptions { users: 6, unlicensed_users: 0, interactions_per_user: 80, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let simulator = common::start_simulator(dataset).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let summary_path = dir.path().join("s.json");
    let summary_arg = summary_path.display().to_string();

    let run = output(args(&simulator, &lake, "500", &["--log-format", "json", "--summary", &summary_arg])).await;
    common::assert_success(&run);

    let stderr = common::stderr(&run);
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "expected start and finish logs:\n{stderr}");
    for line in &lines {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(event["level"].is_string(), "no level: {line}");
    }
    assert!(lines.iter().any(|line| line.contains("sync finished")), "{stderr}");
    assert!(!stderr.contains(common::SECRET), "the client secret leaked into the logs");

    let summary: Value = serde_json::from_slice(&std::fs::read(&summary_path).expect("summary")).expect("JSON");
    for table in ["interactions", "contexts", "attachments", "links", "mentions"] {
        let rows = common::read_table(&lake, table).len() as u64;
        assert_eq!(summary["rows"][table], rows, "{table}");
    }
    let files: usize = ["interactions", "contexts", "attachments", "links", "mentions"]
        .iter()
        .map(|table| common::data_files(&lake, table).len())
        .sum();
    assert_eq!(summary["files"], files as u64);
    assert_eq!(summary["users"]["ok"], 6);
    let run_id = summary["run_id"].as_str().expect("run id");
    let record = lake.join(format!("_copilot_lake/runs/{run_id}.json"));
    let stored: Value = serde_json::from_slice(&std::fs::read(&record).expect("run record")).expect("JSON");
    assert_eq!(stored["rows"], summary["rows"], "the run record equals the summary");
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_writes_nothing() {
    let dataset = Dataset::generate(&GenerateOptions {
        users: 3,
        unlicensed_users: 0,
        interactions_per_user: 10,
        ..GenerateOptions::default()
    });
    let users: Vec<String> = dataset.licensed_users().map(|user| user.id.clone()).collect();
    let simulator = common::start_simulator(dataset).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");

    let run = output(args(&simulator, &lake, "500", &["--dry-run"])).await;
    common::assert_success(&run);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("3 user(s)"), "{stdout}");
    for user in &users {
        assert!(stdout.contains(user.as_str()), "{user} missing from the plan:\n{stdout}");
    }
    assert!(common::data_files(&lake, "interactions").is_empty());
    assert!(!lake.join("_copilot_lake/state.json").exists(), "a dry run stored state");
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_cleanly_and_next_run_completes() {
    let options =
        GenerateOptions { users: 12, unlicensed_users: 0, interactions_per_user: 150, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let expected = expected_by_user(&dataset, &options);
    let simulator = common::start_simulator(dataset).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let summary_path = dir.path().join("s.json");
    let summary_arg = summary_path.display().to_string();

    let slow = args(&simulator, &lake, "6", &["--concurrency", "2", "--summary", &summary_arg]);
    let child = binary(&slow).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("sync starts");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait")).await.expect("task");
    assert_eq!(status.status.code(), Some(143), "{}", String::from_utf8_lossy(&status.stderr));

    let summary: Value = serde_json::from_slice(&std::fs::read(&summary_path).expect("summary")).expect("JSON");
    assert_eq!(summary["stopped_by"], "SIGTERM");
    assert!(summary["users"]["not_started"].as_u64().expect("count") > 0, "{summary}");
    let landed = keys_by_user(&lake);
    assert!(landed.len() < expected.len(), "every user landed before the stop");
    for (user, keys) in &landed {
        assert_eq!(Some(keys), expected.get(user), "user {user} landed in part");
    }

    let rerun = output(args(&simulator, &lake, "500", &[])).await;
    common::assert_success(&rerun);
    assert_eq!(keys_by_user(&lake), expected);
    assert_eq!(common::read_table(&lake, "interactions").len(), expected.values().map(BTreeSet::len).sum::<usize>());
    simulator.shutdown().await;
}

#[test]
fn invalid_usage_exits_2() {
    for bad in [
        vec!["sync"],
        vec!["sync", "--out", "/tmp/x", "--since", "tomorrow", "--access-token-file", "/dev/null"],
        vec!["compact", "--out", "/tmp/x", "--table", "users"],
    ] {
        let run = common::copilot_lake(&bad);
        assert_eq!(run.status.code(), Some(2), "{bad:?}: {}", common::stderr(&run));
    }
}

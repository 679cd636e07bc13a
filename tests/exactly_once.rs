//! Exactly-once landing: runs killed at any moment and rerun, reruns of old windows, two runs at
//! once and compaction all leave every interaction in the lake once, with all its child rows.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use copilot_lake::simulate::server::RunningSimulator;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const SINCE: &str = "2026-10-01";
const UNTIL: &str = "2026-12-01";

/// The crash points of the commit protocol, in order.
const FAILPOINTS: &[&str] = &["commit-written", "first-file-published", "files-published", "state-saved"];

fn options(seed: u64) -> GenerateOptions {
    GenerateOptions { seed, users: 5, unlicensed_users: 1, interactions_per_user: 160, ..GenerateOptions::default() }
}

/// The row counts and the key set a correct lake holds for the whole window.
fn expected(dataset: &Dataset, options: &GenerateOptions) -> (BTreeMap<String, u64>, BTreeSet<String>) {
    let mut keys = BTreeSet::new();
    let mut records = Vec::new();
    for user in dataset.licensed_users() {
        for record in dataset.records_in_window(&user.id, options.start, options.end) {
            keys.insert(format!("{}|{}|{}", user.id, record.json["sessionId"], record.json["id"]));
            records.push(&record.json);
        }
    }
    (common::expected_counts(records), keys)
}

/// Row counts per table and the interaction keys, with duplicates counted.
fn lake_contents(lake: &Path) -> (BTreeMap<String, u64>, Vec<String>) {
    let mut counts = BTreeMap::new();
    for table in ["interactions", "contexts", "attachments", "links", "mentions"] {
        counts.insert(table.to_owned(), common::read_table(lake, table).len() as u64);
    }
    let keys = common::read_table(lake, "interactions")
        .into_iter()
        .map(|row| {
            let session = Value::String(row["session_id"].as_str().expect("session").into());
            let id = Value::String(row["interaction_id"].as_str().expect("id").into());
            format!("{}|{}|{}", row["user_id"].as_str().expect("user"), session, id)
        })
        .collect();
    (counts, keys)
}

fn assert_exact(lake: &Path, expected: &(BTreeMap<String, u64>, BTreeSet<String>), context: &str) {
    let (counts, keys) = lake_contents(lake);
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "{context}: duplicate keys");
    assert_eq!(unique, expected.1, "{context}: key set");
    assert_eq!(counts, expected.0, "{context}: rows per table");
    let staging = lake.join("_copilot_lake/staging");
    let leftovers = common::data_files(&staging, "");
    assert!(leftovers.is_empty(), "{context}: staged files left behind: {leftovers:?}");
}

fn sync_args(simulator: &RunningSimulator, lake: &Path, rate: &str) -> Vec<String> {
    [
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
        SINCE,
        "--until",
        UNTIL,
        "--max-requests-per-second",
        rate,
    ]
    .map(String::from)
    .to_vec()
}

fn binary(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_copilot-lake"));
    command.args(args).env("COPILOT_LAKE_CLIENT_SECRET", common::SECRET).env("COPILOT_LAKE_LOG", "warn");
    command
}

/// Starts a sync and stops it: at a named commit step, or with SIGKILL after `kill_after`.
async fn interrupted_sync(args: Vec<String>, failpoint: Option<&'static str>, kill_after: Duration) {
    tokio::task::spawn_blocking(move || {
        let mut command = binary(&args);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(point) = failpoint {
            let status = command.env("COPILOT_LAKE_FAILPOINT", point).status().expect("sync runs");
            assert!(!status.success(), "the failpoint {point} was never reached");
            return;
        }
        let mut child = command.spawn().expect("sync starts");
        std::thread::sleep(kill_after);
        // SIGKILL: no destructor, no flush, as when a node dies.
        let _ = child.kill();
        let _ = child.wait();
    })
    .await
    .expect("sync task");
}

async fn run_to_completion(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || binary(&args).output().expect("sync runs")).await.expect("sync task")
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_runs_rerun_to_exact_lake() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for iteration in 0..24u64 {
        let options = options(100 + iteration);
        let dataset = Dataset::generate(&options);
        let expected = expected(&dataset, &options);
        let simulator = common::start_simulator(dataset).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = dir.path().join("lake");

        // Every fourth iteration crashes at each commit step in turn; the others at a random instant.
        let failpoint = (iteration % 2 == 0).then(|| FAILPOINTS[(iteration as usize / 2) % FAILPOINTS.len()]);
        let kill_after = Duration::from_millis(rng.random_range(20..900));
        interrupted_sync(sync_args(&simulator, &lake, "40"), failpoint, kill_after).await;

        let rerun = run_to_completion(sync_args(&simulator, &lake, "500")).await;
        let context = format!("iteration {iteration}, failpoint {failpoint:?}, kill after {kill_after:?}");
        common::assert_success(&rerun);
        assert_exact(&lake, &expected, &context);

        let again = run_to_completion(sync_args(&simulator, &lake, "500")).await;
        common::assert_success(&again);
        assert_exact(&lake, &expected, &format!("{context}, second rerun"));
        simulator.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_run_fails_clearly() {
    let options = options(3);
    let dataset = Dataset::generate(&options);
    let expected = expected(&dataset, &options);
    let simulator = common::start_simulator(dataset).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");

    let slow = sync_args(&simulator, &lake, "4");
    let first = tokio::task::spawn_blocking(move || binary(&slow).output().expect("first sync"));
    let lock = lake.join("_copilot_lake/lock.json");
    for _ in 0..200 {
        if lock.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(lock.exists(), "the first run never took the lock");

    let second = run_to_completion(sync_args(&simulator, &lake, "500")).await;
    assert_eq!(second.status.code(), Some(1), "{}", common::stderr(&second));
    let message = common::stderr(&second);
    assert!(message.contains("holds the lock"), "{message}");
    assert!(message.contains("--wait-for-lock"), "{message}");

    let first = first.await.expect("first task");
    common::assert_success(&first);
    assert_exact(&lake, &expected, "after two runs at once");
    assert!(!lock.exists(), "the lock was not released");
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_run_starts_after_the_first() {
    let options = options(4);
    let dataset = Dataset::generate(&options);
    let expected = expected(&dataset, &options);
    let simulator = common::start_simulator(dataset).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");

    let slow = sync_args(&simulator, &lake, "8");
    let first = tokio::task::spawn_blocking(move || binary(&slow).output().expect("first sync"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut patient = sync_args(&simulator, &lake, "500");
    patient.extend(["--wait-for-lock".to_owned(), "2m".to_owned()]);
    let second = run_to_completion(patient).await;
    common::assert_success(&second);
    common::assert_success(&first.await.expect("first task"));
    assert_exact(&lake, &expected, "after a waiting run");
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compaction_keeps_rows_and_cuts_files() {
    let options = options(5);
    let dataset = Dataset::generate(&options);
    let expected = expected(&dataset, &options);
    let users: Vec<String> = dataset.licensed_users().map(|user| user.id.clone()).collect();
    let simulator = common::start_simulator(dataset).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");

    // One run per user leaves one file per user in each partition.
    for user in &users {
        let mut args = sync_args(&simulator, &lake, "500");
        args.extend(["--user".to_owned(), user.clone()]);
        common::assert_success(&run_to_completion(args).await);
    }
    assert_exact(&lake, &expected, "before compaction");
    let files_before: usize =
        ["interactions", "contexts", "links"].iter().map(|t| common::data_files(&lake, t).len()).sum();

    let compact = ["compact", "--out", &lake.display().to_string()].map(String::from).to_vec();
    // A compaction stopped after publishing its new files, before deleting the old ones, is
    // finished by the next run that takes the lock.
    interrupted_sync(compact.clone(), Some("files-published"), Duration::ZERO).await;
    let output = run_to_completion(compact.clone()).await;
    common::assert_success(&output);
    assert_exact(&lake, &expected, "after compaction");
    let files_after: usize =
        ["interactions", "contexts", "links"].iter().map(|t| common::data_files(&lake, t).len()).sum();
    assert!(files_after < files_before, "{files_after} files after, {files_before} before");

    let again = run_to_completion(compact).await;
    common::assert_success(&again);
    assert_exact(&lake, &expected, "after a second compaction");
    simulator.shutdown().await;
}

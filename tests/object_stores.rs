//! The lake on real object stores: S3 on Garage and Azure Blob Storage on Azurite, read back with
//! pyarrow. `.ci/start-garage.sh` and `.ci/start-azurite.sh` start the shared servers and write
//! the variables these tests read (see the README). Without them a test prints a skip message and
//! passes; under `CI=true` it fails instead. The outage tests start private servers from the same
//! scripts, because they kill them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use copilot_lake::simulate::server::RunningSimulator;
use copilot_lake::sink::store::{self, PART_SIZE, StoreOptions};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use rand::{Rng, SeedableRng};
use serde_json::Value;

const TABLES: [&str; 5] = ["interactions", "contexts", "attachments", "links", "mentions"];

/// One of the object stores under test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    S3,
    Azure,
}

impl Kind {
    fn url_var(self) -> &'static str {
        match self {
            Kind::S3 => "COPILOT_LAKE_TEST_S3_URL",
            Kind::Azure => "COPILOT_LAKE_TEST_AZURE_URL",
        }
    }

    fn start_script(self) -> &'static str {
        match self {
            Kind::S3 => ".ci/start-garage.sh",
            Kind::Azure => ".ci/start-azurite.sh",
        }
    }

    fn pid_file(self) -> &'static str {
        match self {
            Kind::S3 => "garage.pid",
            Kind::Azure => "azurite.pid",
        }
    }
}

/// Returns the bucket or container URL of the shared server of `kind`, or `None` after a skip message
/// when the server was not started. Under `CI=true` a missing server fails the test.
fn shared_store(kind: Kind) -> Option<String> {
    if let Ok(url) = std::env::var(kind.url_var())
        && !url.is_empty()
    {
        return Some(url);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing under CI=true; .ci/run starts the server with {}",
        kind.url_var(),
        kind.start_script()
    );
    eprintln!(
        "skipping: {} is not set; start the server with {} and source its env file, as the README shows",
        kind.url_var(),
        kind.start_script()
    );
    None
}

/// Returns a lake URL below `base` that no other test or earlier run uses.
fn unique_lake(base: &str, name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}/{name}-{}-{nanos}", base.trim_end_matches('/'), std::process::id())
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A server of its own for a test that kills it: started by the same script as the shared one,
/// from a temporary folder, and stopped when dropped.
struct PrivateServer {
    kind: Kind,
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl PrivateServer {
    fn start(kind: Kind) -> PrivateServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = PrivateServer { kind, dir, env: BTreeMap::new() };
        server.run_start_script();
        server.env = read_env_file(&server.dir.path().join("env"));
        server
    }

    /// Starts the server, or restarts it with its data, port and credentials.
    fn run_start_script(&self) {
        let output = Command::new("bash")
            .arg(repository().join(self.kind.start_script()))
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "{} failed:\n{}", self.kind.start_script(), common::stderr(&output));
    }

    fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.path().join(self.kind.pid_file())).expect("pid file");
        let status = Command::new("kill").args(["-KILL", pid.trim()]).status().expect("kill runs");
        assert!(status.success(), "kill -KILL {pid} failed");
    }

    fn var(&self, name: &str) -> &str {
        self.env.get(name).map(String::as_str).unwrap_or_else(|| panic!("{name} missing from the env file"))
    }

    fn base_url(&self) -> &str {
        self.var(self.kind.url_var())
    }

    /// `--store-option` items that point a process at this server, whatever AWS_* or AZURE_*
    /// variables of the shared servers it also has.
    fn store_options(&self) -> Vec<String> {
        match self.kind {
            Kind::S3 => vec![
                format!("endpoint={}", self.var("AWS_ENDPOINT")),
                "allow_http=true".into(),
                format!("region={}", self.var("AWS_REGION")),
                format!("access_key_id={}", self.var("AWS_ACCESS_KEY_ID")),
                format!("secret_access_key={}", self.var("AWS_SECRET_ACCESS_KEY")),
            ],
            // Outside emulator mode, an endpoint with the account as its path reaches Azurite.
            Kind::Azure => vec![
                "use_emulator=false".into(),
                format!("endpoint={}/{}", self.var("AZURITE_BLOB_STORAGE_URL"), self.var("AZURE_STORAGE_ACCOUNT_NAME")),
                "allow_http=true".into(),
                format!("account_name={}", self.var("AZURE_STORAGE_ACCOUNT_NAME")),
                format!("access_key={}", self.var("AZURE_STORAGE_ACCOUNT_KEY")),
            ],
        }
    }

    /// Returns the environment of a child process: the env file, and the options for copilot-lake.
    fn child_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.env.clone().into_iter().collect();
        env.push(("COPILOT_LAKE_STORE_OPTION".into(), self.store_options().join(",")));
        env
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repository().join(".ci/stop-servers.sh"))
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output();
    }
}

/// Reads the `export NAME=VALUE` lines the start scripts write.
fn read_env_file(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines()
        .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn sync_command(simulator: &RunningSimulator, lake: &str, env: &[(String, String)], extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_copilot-lake"));
    command
        .args(["sync", "--out", lake, "--tenant-id", "contoso", "--client-id", "test-client"])
        .args(["--graph-url", &simulator.graph_url(), "--authority-url", &simulator.base_url()])
        .args(extra)
        .env("COPILOT_LAKE_CLIENT_SECRET", common::SECRET)
        .env("COPILOT_LAKE_LOG", "warn")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null());
    command
}

/// Runs `sync` to the end, off the async threads.
async fn sync(simulator: &RunningSimulator, lake: &str, env: &[(String, String)], extra: &[&str]) -> Output {
    let mut command = sync_command(simulator, lake, env, extra);
    tokio::task::spawn_blocking(move || command.output().expect("copilot-lake runs")).await.expect("sync task")
}

/// Reads a lake with pyarrow through tests/python/read_lake.py: per table, the files, rows,
/// row digest and stray objects.
fn read_with_pyarrow(python: &Path, lake: &str, env: &[(String, String)]) -> Value {
    let script = repository().join("tests/python/read_lake.py");
    let output = Command::new(python)
        .arg(script)
        .arg(lake)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .output()
        .expect("python runs");
    assert!(output.status.success(), "read_lake.py {lake} failed:\n{}", common::stderr(&output));
    serde_json::from_slice(&output.stdout).expect("read_lake.py prints JSON")
}

/// Counts the rows per table that a correct sync of the whole dataset produces.
fn expected_rows(dataset: &Dataset, options: &GenerateOptions) -> BTreeMap<String, u64> {
    let served = dataset
        .licensed_users()
        .flat_map(|user| dataset.records_in_window(&user.id, options.start, options.end))
        .map(|record| &record.json);
    common::expected_counts(served)
}

fn window_args(options: &GenerateOptions) -> [String; 4] {
    ["--since".into(), options.start.to_rfc3339(), "--until".into(), options.end.to_rfc3339()]
}

/// Asserts that `lake` contains exactly the expected rows, and the same rows as `reference`.
fn assert_lake_matches(lake: &Value, reference: &Value, expected: &BTreeMap<String, u64>, context: &str) {
    for table in TABLES {
        assert_eq!(lake[table]["rows"], expected[table], "{context}: {table}: rows in the object-store lake");
        let digest = &lake[table]["digest"];
        assert_eq!(digest, &reference[table]["digest"], "{context}: {table}: rows differ from the local lake");
        assert_eq!(lake[table]["other_files"], serde_json::json!([]), "{context}: {table}: stray objects");
    }
    assert!(lake["interactions"]["files"].as_u64() > Some(0), "{context}: {lake}");
}

async fn lake_equals_local_lake(kind: Kind) {
    let Some(base) = shared_store(kind) else {
        return;
    };
    let Some(python) = common::python_with_duckdb() else {
        return;
    };
    let options = GenerateOptions { users: 6, interactions_per_user: 150, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let expected = expected_rows(&dataset, &options);
    let simulator = common::start_simulator(dataset).await;
    let window = window_args(&options);
    let window: Vec<&str> = window.iter().map(String::as_str).collect();

    let local = tempfile::tempdir().expect("tempdir");
    let local_lake = local.path().display().to_string();
    common::assert_success(&sync(&simulator, &local_lake, &[], &window).await);
    let lake = unique_lake(&base, "equals-local");
    common::assert_success(&sync(&simulator, &lake, &[], &window).await);

    let reference = read_with_pyarrow(&python, &local_lake, &[]);
    let landed = read_with_pyarrow(&python, &lake, &[]);
    assert_lake_matches(&landed, &reference, &expected, &format!("{kind:?}"));
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_lake_equals_local_lake() {
    lake_equals_local_lake(Kind::S3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_lake_equals_local_lake() {
    lake_equals_local_lake(Kind::Azure).await;
}

/// The first object below `prefix`, if any.
async fn first_object(store: &dyn ObjectStore, prefix: &ObjectPath) -> Option<ObjectPath> {
    let mut listing = store.list(Some(prefix));
    listing.try_next().await.ok().flatten().map(|meta| meta.location)
}

/// Kills the store while a slow run stages files, checks the failure and what readers see, then
/// restarts the store and checks that a rerun lands everything.
async fn outage_fails_run_then_rerun_lands(kind: Kind) {
    if shared_store(kind).is_none() {
        return;
    }
    let Some(python) = common::python_with_duckdb() else {
        return;
    };
    let server = PrivateServer::start(kind);
    let env = server.child_env();
    let lake = unique_lake(server.base_url(), "outage");
    let store_options = StoreOptions::parse(&server.store_options()).expect("options");
    let opened = store::open(&lake, &store_options).expect("open the private store");
    let staging = opened.root.join("_copilot_lake/staging");

    // About 2,400 records over 10 days, read at 4 requests a second, with small files so
    // staging starts while users are still being read.
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().expect("date");
    let options = GenerateOptions {
        users: 8,
        interactions_per_user: 300,
        start,
        end: start + chrono::Duration::days(10),
        ..GenerateOptions::default()
    };
    let dataset = Dataset::generate(&options);
    let expected = expected_rows(&dataset, &options);
    let simulator = common::start_simulator(dataset).await;
    let window = window_args(&options);
    let mut first_run: Vec<&str> = window.iter().map(String::as_str).collect();
    first_run.extend([
        "--max-requests-per-second",
        "4",
        "--concurrency",
        "2",
        "--target-file-size",
        "16KiB",
        // Fail within seconds of the outage instead of retrying for minutes, and let the lock
        // that the failed run cannot release expire soon.
        "--store-option",
        "max_retries=2",
        "--store-option",
        "retry_timeout=5s",
        "--lock-ttl",
        "6s",
    ]);

    let mut child = sync_command(&simulator, &lake, &env, &first_run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("copilot-lake starts");
    let began = Instant::now();
    let staged = loop {
        if let Some(path) = first_object(opened.store.as_ref(), &staging).await {
            break path;
        }
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("the run ended ({status}) before staging a file; make it slower");
        }
        assert!(began.elapsed() < Duration::from_secs(120), "no staged file after 2 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    server.kill();
    let staged_after = began.elapsed();

    let output = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait")).await.expect("wait task");
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "the run fails when the store stops:\n{stderr}");
    assert!(stderr.contains(&lake), "the error names the lake:\n{stderr}");
    assert!(
        ["PUT", "GET", "LIST", "DELETE", "RENAME", "COPY"].iter().any(|operation| stderr.contains(operation)),
        "the error names the operation:\n{stderr}"
    );
    eprintln!("{kind:?}: first staged object {staged} after {staged_after:?}; failure:\n{stderr}");

    server.run_start_script();
    let after_outage = read_with_pyarrow(&python, &lake, &server.env.clone().into_iter().collect::<Vec<_>>());
    for table in TABLES {
        assert_eq!(after_outage[table]["files"], 0, "{table}: files visible after the failed run: {after_outage}");
        assert_eq!(after_outage[table]["other_files"], serde_json::json!([]), "{table}: {after_outage}");
    }

    let mut rerun: Vec<&str> = window.iter().map(String::as_str).collect();
    rerun.extend(["--wait-for-lock", "60s"]);
    let output = sync(&simulator, &lake, &env, &rerun).await;
    common::assert_success(&output);
    let local = tempfile::tempdir().expect("tempdir");
    let local_lake = local.path().display().to_string();
    common::assert_success(
        &sync(&simulator, &local_lake, &[], &window.iter().map(String::as_str).collect::<Vec<_>>()).await,
    );

    let env_file: Vec<(String, String)> = server.env.clone().into_iter().collect();
    let landed = read_with_pyarrow(&python, &lake, &env_file);
    let reference = read_with_pyarrow(&python, &local_lake, &[]);
    assert_lake_matches(&landed, &reference, &expected, &format!("{kind:?} rerun after the outage"));
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_outage_fails_run_then_rerun_lands() {
    outage_fails_run_then_rerun_lands(Kind::S3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_outage_fails_run_then_rerun_lands() {
    outage_fails_run_then_rerun_lands(Kind::Azure).await;
}

fn open_shared(kind: Kind, name: &str) -> Option<(std::sync::Arc<dyn ObjectStore>, ObjectPath)> {
    let base = shared_store(kind)?;
    let lake = store::open(&unique_lake(&base, name), &StoreOptions::default()).expect("open the shared store");
    Some((lake.store, lake.root.prefix().clone()))
}

async fn large_file_round_trips(kind: Kind) {
    let Some((store, prefix)) = open_shared(kind, "multipart") else {
        return;
    };
    let size = 2 * PART_SIZE + 12_345;
    let data: Bytes = (0..size).map(|i| (i % 253) as u8).collect::<Vec<u8>>().into();
    let large = prefix.clone().join("large.bin");
    store::put_file(store.as_ref(), &large, data.clone()).await.expect("multipart put_file");
    let small = prefix.clone().join("small.bin");
    store::put_file(store.as_ref(), &small, data.slice(..1000)).await.expect("small put_file");

    let stored = store.get(&large).await.expect("get").bytes().await.expect("bytes");
    assert_eq!(stored.len(), size);
    assert!(stored == data, "the content of the multipart file differs");
    let stored = store.get(&small).await.expect("get").bytes().await.expect("bytes");
    assert!(stored == data.slice(..1000), "the content of the small file differs");

    if kind == Kind::S3 {
        // S3 gives a multipart object the ETag "<md5 of the part md5s>-<parts>".
        let etag = store.head(&large).await.expect("head").e_tag.expect("etag");
        assert!(etag.trim_matches('"').ends_with("-3"), "three parts expected, ETag {etag}");
        let etag = store.head(&small).await.expect("head").e_tag.expect("etag");
        assert!(!etag.contains('-'), "one PUT expected, ETag {etag}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_large_file_goes_multipart() {
    large_file_round_trips(Kind::S3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_large_file_round_trips() {
    large_file_round_trips(Kind::Azure).await;
}

fn put_mode(mode: PutMode) -> PutOptions {
    PutOptions { mode, ..PutOptions::default() }
}

/// How a store answered a conditional write, in words for the assertion message.
fn outcome(result: &object_store::Result<object_store::PutResult>) -> &'static str {
    match result {
        Ok(_) => "written",
        Err(object_store::Error::AlreadyExists { .. }) => "already exists",
        Err(object_store::Error::Precondition { .. }) => "precondition failed",
        Err(object_store::Error::NotImplemented { .. }) => "not implemented",
        Err(_) => "other error",
    }
}

/// Tries the conditional writes a lease-based lock needs and returns how the store answered
/// each: create a new object, create it again, update the current version, update a stale one.
async fn conditional_write_outcomes(kind: Kind) -> Option<[&'static str; 4]> {
    let (store, prefix) = open_shared(kind, "conditional")?;
    let path = prefix.clone().join("lock.json");
    // Different content each time, because an S3 ETag is the MD5 of the content.
    let payload = |version: u8| PutPayload::from(format!("{{\"version\": {version}}}"));

    let created = store.put_opts(&path, payload(1), put_mode(PutMode::Create)).await;
    let created_again = store.put_opts(&path, payload(2), put_mode(PutMode::Create)).await;
    let head = store.head(&path).await.expect("head");
    let current = UpdateVersion { e_tag: head.e_tag, version: head.version };
    let updated = store.put_opts(&path, payload(3), put_mode(PutMode::Update(current.clone()))).await;
    let stale = store.put_opts(&path, payload(4), put_mode(PutMode::Update(current))).await;
    let outcomes = [outcome(&created), outcome(&created_again), outcome(&updated), outcome(&stale)];
    eprintln!("{kind:?} conditional writes (create, create again, update current, update stale): {outcomes:?}");
    for result in [created_again, stale].iter().filter(|result| matches!(outcome(result), "other error")) {
        eprintln!("{kind:?}: {result:?}");
    }
    Some(outcomes)
}

/// Garage 2.5 ignores `If-None-Match` and `If-Match` on PUT (its PutObject handler reads
/// neither), so both conditional modes silently overwrite. docs/design.md ("Object stores")
/// draws the consequences for the run lock. AWS S3 itself honours both headers.
#[tokio::test(flavor = "multi_thread")]
async fn s3_conditional_writes() {
    let Some(outcomes) = conditional_write_outcomes(Kind::S3).await else {
        return;
    };
    assert_eq!(outcomes, ["written", "written", "written", "written"]);
}

/// Azurite supports both: `If-None-Match: *` and `If-Match` with an ETag.
#[tokio::test(flavor = "multi_thread")]
async fn azure_conditional_writes() {
    let Some(outcomes) = conditional_write_outcomes(Kind::Azure).await else {
        return;
    };
    assert_eq!(outcomes, ["written", "already exists", "written", "precondition failed"]);
}

/// The crash points of the commit protocol, named as `COPILOT_LAKE_FAILPOINT` takes them.
const FAILPOINTS: [&str; 4] = ["commit-written", "first-file-published", "files-published", "state-saved"];

/// Runs killed at each commit step and at random instants, each rerun on S3, leave the same
/// rows as a local lake: on S3 a rename is a copy and a delete, so the roll-forward meets
/// half-published commits that the local file system never shows.
#[tokio::test(flavor = "multi_thread")]
async fn s3_killed_runs_rerun_to_exact_lake() {
    let Some(base) = shared_store(Kind::S3) else {
        return;
    };
    let Some(python) = common::python_with_duckdb() else {
        return;
    };
    let options = GenerateOptions { users: 5, interactions_per_user: 160, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let expected = expected_rows(&dataset, &options);
    let simulator = common::start_simulator(dataset).await;
    let window = window_args(&options);
    let window: Vec<&str> = window.iter().map(String::as_str).collect();
    let local = tempfile::tempdir().expect("tempdir");
    let local_lake = local.path().display().to_string();
    common::assert_success(&sync(&simulator, &local_lake, &[], &window).await);
    let reference = read_with_pyarrow(&python, &local_lake, &[]);

    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for iteration in 0..8 {
        let lake = unique_lake(&base, &format!("killed-{iteration}"));
        let failpoint = FAILPOINTS.get(iteration).copied();
        let kill_after = Duration::from_millis(rng.random_range(50..1500));
        let mut slow = window.clone();
        slow.extend(["--max-requests-per-second", "40"]);
        let mut command = sync_command(&simulator, &lake, &[], &slow);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        tokio::task::spawn_blocking(move || match failpoint {
            Some(point) => {
                let status = command.env("COPILOT_LAKE_FAILPOINT", point).status().expect("sync runs");
                assert!(!status.success(), "the failpoint {point} was never reached");
            }
            None => {
                let mut child = command.spawn().expect("sync starts");
                std::thread::sleep(kill_after);
                // SIGKILL: no destructor and no cleanup, as when a node dies.
                let _ = child.kill();
                let _ = child.wait();
            }
        })
        .await
        .expect("interrupted sync");

        let context = match failpoint {
            Some(point) => format!("iteration {iteration}, killed at {point}"),
            None => format!("iteration {iteration}, killed after {kill_after:?}"),
        };
        common::assert_success(&sync(&simulator, &lake, &[], &window).await);
        let landed = read_with_pyarrow(&python, &lake, &[]);
        assert_lake_matches(&landed, &reference, &expected, &context);
        let opened = store::open(&lake, &StoreOptions::default()).expect("open the lake");
        for folder in ["_copilot_lake/staging", "_copilot_lake/commits"] {
            let left = first_object(opened.store.as_ref(), &opened.root.join(folder)).await;
            assert_eq!(left, None, "{context}: objects left in {folder}");
        }
    }
    simulator.shutdown().await;
}

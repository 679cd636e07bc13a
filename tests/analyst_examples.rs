//! The examples in `examples/` run against a freshly synced demo lake. DuckDB and Polars run
//! the example queries, Spark reads every table with partition discovery and runs its example,
//! and every answer must equal the one computed from the simulator's records. The scheduled-job
//! manifests must load, and their command lines must run `sync --dry-run`.

mod common;
#[path = "analyst/expected.rs"]
mod expected;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use serde_json::{Map, Value, json};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python_script(name: &str) -> PathBuf {
    repository().join("tests/python").join(name)
}

/// Syncs the demo into `<parent>/copilot-lake-demo`, the path the examples read.
fn demo_lake(parent: &Path) -> PathBuf {
    let lake = parent.join("copilot-lake-demo");
    common::assert_success(&common::copilot_lake(&["demo", "--out", &lake.display().to_string()]));
    lake
}

fn assert_python_success(output: &Output, description: &str) {
    assert!(
        output.status.success(),
        "{description} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Returns the row as a canonical JSON string of the columns in `columns` only.
fn project(row: &Value, columns: &[String]) -> String {
    let object: Map<String, Value> = columns.iter().map(|column| (column.clone(), row[column].clone())).collect();
    Value::Object(object).to_string()
}

/// Compares each query's rows with the expected rows, on the expected rows' columns and
/// regardless of order.
fn assert_results(engine: &str, results: &Value, expected: &BTreeMap<&str, Vec<Value>>) {
    for (query, expected_rows) in expected {
        let rows = results[*query].as_array().unwrap_or_else(|| panic!("{engine} returned no rows for {query}"));
        assert_eq!(rows.len(), expected_rows.len(), "{engine} {query}: row count");
        assert!(!expected_rows.is_empty(), "{query} has rows in the demo");

        let columns: Vec<String> = expected_rows[0].as_object().expect("row object").keys().cloned().collect();
        let mut actual: Vec<String> = rows.iter().map(|row| project(row, &columns)).collect();
        let mut expected_json: Vec<String> = expected_rows.iter().map(|row| project(row, &columns)).collect();
        actual.sort();
        expected_json.sort();
        let mismatch = actual.iter().zip(&expected_json).find(|(got, want)| got != want);
        assert!(
            mismatch.is_none(),
            "{engine} {query}: first differing row\n  got      {}\n  expected {}",
            mismatch.map_or("", |m| m.0),
            mismatch.map_or("", |m| m.1)
        );
    }
}

fn run_example_queries(engine: &str, modules: &[&str]) {
    let Some(python) = common::python_with(modules) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    demo_lake(dir.path());

    let output = Command::new(python)
        .arg(python_script("run_examples.py"))
        .arg(engine)
        .arg(dir.path())
        .output()
        .expect("python runs");
    assert_python_success(&output, &format!("the {engine} examples"));
    let results: Value = serde_json::from_slice(&output.stdout).expect("results JSON");

    let records = expected::demo_records();
    assert_results(engine, &results, &expected::example_results(&records));
}

#[test]
fn duckdb_queries_match_simulator() {
    run_example_queries("duckdb", &["duckdb", "pyarrow"]);
}

#[test]
fn polars_example_matches_simulator() {
    run_example_queries("polars", &["polars"]);
}

/// Spark's type names of the `schema --format json` types, which every table's files must
/// read as, with the `date` partition column last.
fn spark_types() -> Value {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repository().join("schemas/tables.json")).expect("tables.json"))
            .expect("JSON");
    let mut types = Map::new();
    for table in schema["tables"].as_array().expect("tables") {
        let mut columns: Vec<Value> = table["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|column| {
                let spark = match column["type"].as_str().expect("type") {
                    "string" => "string",
                    "int32" => "int",
                    "timestamp[us, UTC]" => "timestamp",
                    other => panic!("no Spark type for {other}"),
                };
                json!([column["name"], spark])
            })
            .collect();
        columns.push(json!(["date", "date"]));
        types.insert(table["name"].as_str().expect("name").to_owned(), Value::Array(columns));
    }
    Value::Object(types)
}

#[test]
fn spark_reads_lake_and_runs_example() {
    let Some(python) = common::python_with(&["pyspark"]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = demo_lake(dir.path());
    let records = expected::demo_records();

    let ddl = common::copilot_lake(&["schema", "--format", "spark", "--lake", &lake.display().to_string()]);
    common::assert_success(&ddl);
    let ddl_path = dir.path().join("spark.sql");
    std::fs::write(&ddl_path, &ddl.stdout).expect("write DDL");
    let checks = json!({
        "counts": common::expected_counts(records.iter().map(|record| &record.json)),
        "types": spark_types(),
        "ddl": ddl_path,
    });
    let checks_path = dir.path().join("expected.json");
    std::fs::write(&checks_path, checks.to_string()).expect("write expected");
    let results_path = dir.path().join("results.json");

    // Spark writes its warehouse folder into the working directory; the loopback address keeps
    // it off the machine's other interfaces.
    let output = Command::new(python)
        .arg(python_script("check_spark.py"))
        .args([&lake, &checks_path, &results_path])
        .current_dir(dir.path())
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .expect("python runs");
    assert_python_success(&output, "the Spark checks");
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(report.matches("ok   ").count(), 5 * 2 + 4 + 5 + 1, "every Spark check ran:\n{report}");

    let results: Value = serde_json::from_slice(&std::fs::read(&results_path).expect("results")).expect("JSON");
    assert_results("Spark", &results, &expected::example_results(&records));
}

/// Loads every YAML document of a file with PyYAML, as JSON values.
fn load_yaml(python: &Path, file: &Path) -> Vec<Value> {
    let program =
        "import json, sys, yaml\njson.dump(list(yaml.safe_load_all(open(sys.argv[1], encoding='utf-8'))), sys.stdout)";
    let output = Command::new(python).args(["-c", program]).arg(file).output().expect("python runs");
    assert_python_success(&output, &format!("loading {}", file.display()));
    serde_json::from_slice(&output.stdout).expect("YAML as JSON")
}

/// Starts a simulator with a few licensed users, for the manifests' dry runs.
async fn small_simulator() -> (copilot_lake::simulate::server::RunningSimulator, usize) {
    let options =
        GenerateOptions { users: 3, unlicensed_users: 1, interactions_per_user: 4, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let licensed = dataset.licensed_users().count();
    (common::start_simulator(dataset).await, licensed)
}

/// Runs the binary with a manifest's arguments plus `--dry-run`, with only `env` and the
/// simulator's endpoints in its environment, and checks that it planned every licensed user.
async fn dry_run(args: Vec<String>, mut env: BTreeMap<String, String>, description: &str) {
    let (simulator, licensed) = small_simulator().await;
    env.insert("COPILOT_LAKE_GRAPH_URL".into(), simulator.graph_url());
    env.insert("COPILOT_LAKE_AUTHORITY_URL".into(), simulator.base_url());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_copilot-lake"))
            .args(&args)
            .arg("--dry-run")
            .env_clear()
            .envs(env)
            .output()
            .expect("the copilot-lake binary runs")
    })
    .await
    .expect("dry run task");
    simulator.shutdown().await;

    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("dry run: {licensed} user(s)")),
        "{description} planned every licensed user:\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_cronjob_runs_sync() {
    let Some(python) = common::python_with(&["yaml"]) else {
        return;
    };
    let documents = load_yaml(&python, &repository().join("examples/kubernetes/cronjob.yaml"));
    let config = documents.iter().find(|d| d["kind"] == "ConfigMap").expect("a ConfigMap");
    let cron_job = documents.iter().find(|d| d["kind"] == "CronJob").expect("a CronJob");
    assert_eq!(cron_job["apiVersion"], "batch/v1");
    assert_eq!(cron_job["spec"]["concurrencyPolicy"], "Forbid", "runs never overlap on one lake");
    let schedule = cron_job["spec"]["schedule"].as_str().expect("schedule");
    assert_eq!(schedule.split_whitespace().count(), 5, "a five-field cron schedule: {schedule}");

    let pod = &cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    let from_config = &container["envFrom"][0]["configMapRef"]["name"];
    assert_eq!(from_config, &config["metadata"]["name"], "the container reads the ConfigMap");
    let secret = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|variable| variable["name"] == "COPILOT_LAKE_CLIENT_SECRET")
        .expect("the client secret variable");
    assert!(secret["valueFrom"]["secretKeyRef"].is_object(), "the client secret comes from a Secret");

    let command: Vec<String> = container["command"]
        .as_array()
        .expect("command")
        .iter()
        .chain(container["args"].as_array().expect("args"))
        .map(|part| part.as_str().expect("string").to_owned())
        .collect();
    assert_eq!(command[..2], ["copilot-lake", "sync"]);
    let mut env: BTreeMap<String, String> = config["data"]
        .as_object()
        .expect("ConfigMap data")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().expect("string value").to_owned()))
        .collect();
    assert!(env.contains_key("COPILOT_LAKE_TENANT_ID") && env.contains_key("COPILOT_LAKE_CLIENT_ID"), "{env:?}");
    let lake = tempfile::tempdir().expect("tempdir");
    assert!(
        env.insert("COPILOT_LAKE_OUT".into(), lake.path().display().to_string()).is_some(),
        "the ConfigMap sets the lake"
    );
    env.insert("COPILOT_LAKE_CLIENT_SECRET".into(), common::SECRET.into());

    dry_run(command[1..].to_vec(), env, "the CronJob").await;
}

/// Returns the values of the `key=` lines of a unit file, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    unit.lines().filter_map(|line| line.strip_prefix(&prefix)).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn systemd_units_verify_and_run_sync() {
    let examples = repository().join("examples/systemd");
    let service = std::fs::read_to_string(examples.join("copilot-lake-sync.service")).expect("service");
    let timer = std::fs::read_to_string(examples.join("copilot-lake-sync.timer")).expect("timer");
    let env_file = std::fs::read_to_string(examples.join("sync.env")).expect("sync.env");

    // The installed paths, replaced by the test's own so that the units can be checked here.
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = env!("CARGO_BIN_EXE_copilot-lake");
    let env_path = dir.path().join("sync.env");
    let secret_path = dir.path().join("client-secret");
    std::fs::write(&env_path, &env_file).expect("write env");
    std::fs::write(&secret_path, common::SECRET).expect("write secret");
    let local_service = service
        .replace("/usr/local/bin/copilot-lake", binary)
        .replace("/etc/copilot-lake/sync.env", &env_path.display().to_string())
        .replace("/etc/copilot-lake/client-secret", &secret_path.display().to_string());
    assert_ne!(local_service, service, "the service names the installed paths");
    let service_path = dir.path().join("copilot-lake-sync.service");
    let timer_path = dir.path().join("copilot-lake-sync.timer");
    std::fs::write(&service_path, &local_service).expect("write service");
    std::fs::write(&timer_path, &timer).expect("write timer");

    match Command::new("systemd-analyze").arg("verify").args([&service_path, &timer_path]).output() {
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success() && stderr.trim().is_empty(), "systemd-analyze verify:\n{stderr}");
        }
        Err(error) => eprintln!("skipping systemd-analyze verify: {error}"),
    }
    assert_eq!(unit_values(&timer, "Persistent"), ["true"]);
    assert_eq!(unit_values(&service, "Type"), ["oneshot"]);

    let exec_start = unit_values(&service, "ExecStart");
    let args: Vec<String> = exec_start[0].split_whitespace().skip(1).map(str::to_owned).collect();
    assert_eq!(args[0], "sync");

    let mut env: BTreeMap<String, String> = env_file
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.split_once('=').expect("KEY=VALUE"))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    for assignment in unit_values(&service, "Environment") {
        let (name, value) = assignment.split_once('=').expect("KEY=VALUE");
        // %d is the credentials directory, where systemd puts LoadCredential files.
        env.insert(name.to_owned(), value.replace("%d", &dir.path().display().to_string()));
    }
    let credential = unit_values(&service, "LoadCredential");
    assert!(credential[0].starts_with("client-secret:"), "{credential:?}");
    let lake = dir.path().join("lake");
    assert!(env.insert("COPILOT_LAKE_OUT".into(), lake.display().to_string()).is_some(), "sync.env sets the lake");

    dry_run(args, env, "the systemd service").await;
}

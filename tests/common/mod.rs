//! Shared helpers of the integration tests: a simulator on 127.0.0.1, the real binary, and
//! Parquet read back into JSON values for comparison.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int32Type, TimestampMicrosecondType};
use chrono::{DateTime, SecondsFormat, Utc};
use copilot_lake::simulate::dataset::Dataset;
use copilot_lake::simulate::server::{self, RunningSimulator, ServerOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};

pub const SECRET: &str = "integration-test-secret";

/// Starts the simulator on a free loopback port, accepting only `SECRET`.
pub async fn start_simulator(dataset: Dataset) -> RunningSimulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("loopback port");
    let options = ServerOptions { client_secret: Some(SECRET.into()), ..ServerOptions::default() };
    server::start(Arc::new(dataset), options, listener).await.expect("simulator starts")
}

/// Runs the release binary with `args` and the test secret in its environment.
pub fn copilot_lake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_copilot-lake"))
        .args(args)
        .env("COPILOT_LAKE_CLIENT_SECRET", SECRET)
        .env("COPILOT_LAKE_LOG", "warn")
        .output()
        .expect("the copilot-lake binary runs")
}

/// Runs `sync` against the simulator into `lake`, with extra flags, off the async threads.
pub async fn sync(simulator: &RunningSimulator, lake: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec![
        "sync".into(),
        "--out".into(),
        lake.display().to_string(),
        "--tenant-id".into(),
        "contoso".into(),
        "--client-id".into(),
        "test-client".into(),
        "--graph-url".into(),
        simulator.graph_url(),
        "--authority-url".into(),
        simulator.base_url(),
        "--max-requests-per-second".into(),
        "500".into(),
    ];
    args.extend(extra.iter().map(|arg| arg.to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        copilot_lake(&args)
    })
    .await
    .expect("sync task")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn assert_success(output: &Output) {
    assert!(output.status.success(), "exit {:?}\nstderr:\n{}", output.status.code(), stderr(output));
}

/// Every Parquet file under `<lake>/<table>/`, sorted.
pub fn data_files(lake: &Path, table: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![lake.join(table)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Reads every row of a table as a JSON object keyed by column name, plus `date` from the
/// partition folder. Timestamps become RFC 3339 strings with microseconds.
pub fn read_table(lake: &Path, table: &str) -> Vec<Map<String, Value>> {
    let mut rows = Vec::new();
    for file in data_files(lake, table) {
        let date = file
            .parent()
            .and_then(|dir| dir.file_name())
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix("date="))
            .expect("file in a date= folder")
            .to_owned();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).expect("open"))
            .expect("parquet footer")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let schema = batch.schema();
            for row in 0..batch.num_rows() {
                let mut object = Map::new();
                for (index, field) in schema.fields().iter().enumerate() {
                    object.insert(field.name().clone(), cell(batch.column(index).as_ref(), row));
                }
                object.insert("date".into(), Value::String(date.clone()));
                rows.push(object);
            }
        }
    }
    rows
}

fn cell(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_owned()),
        DataType::Int32 => Value::from(array.as_primitive::<Int32Type>().value(row)),
        DataType::Timestamp(_, _) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            let time = DateTime::<Utc>::from_timestamp_micros(micros).expect("valid timestamp");
            Value::String(time.to_rfc3339_opts(SecondsFormat::Micros, true))
        }
        other => panic!("unexpected column type {other}"),
    }
}

/// Row counts per table that a correct sync of `records` produces: one interaction row per
/// record and one child row per non-null list element.
pub fn expected_counts<'a>(records: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> =
        ["interactions", "contexts", "attachments", "links", "mentions"].iter().map(|t| (t.to_string(), 0)).collect();
    for record in records {
        *counts.get_mut("interactions").expect("table") += 1;
        for table in ["contexts", "attachments", "links", "mentions"] {
            let present = record[table].as_array().map_or(0, |list| list.iter().filter(|v| !v.is_null()).count());
            *counts.get_mut(table).expect("table") += present as u64;
        }
    }
    counts
}

/// Returns the first Python interpreter that imports every module of `modules`, searched like
/// [`python_with_duckdb`]. `None` when there is none; under `CI=true` that fails the test
/// instead, naming the modules, so CI never skips a reader check.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let candidates: Vec<PathBuf> = std::env::var_os("COPILOT_LAKE_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([venv, PathBuf::from("python3")])
        .collect();
    let import = format!("import {}", modules.join(", "));
    let found = candidates
        .into_iter()
        .find(|python| Command::new(python).args(["-c", &import]).output().is_ok_and(|output| output.status.success()));
    if found.is_none() {
        let names = modules.join(", ");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Python modules {names} are missing under CI=true; .ci/run installs tests/python/requirements.txt into .venv"
        );
        eprintln!(
            "skipping: no Python with {names} (run .ci/run or pip install -r tests/python/requirements.txt into .venv)"
        );
    }
    found
}

/// The Python interpreter with DuckDB and pyarrow: `COPILOT_LAKE_TEST_PYTHON`, else the
/// repository's `.venv`, else `python3`. `None` when DuckDB is missing; under `CI=true` that
/// fails the test instead, so CI never skips the analyst checks.
pub fn python_with_duckdb() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let candidates: Vec<PathBuf> = std::env::var_os("COPILOT_LAKE_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([venv, PathBuf::from("python3")])
        .collect();
    for python in candidates {
        let works = Command::new(&python)
            .args(["-c", "import duckdb, pyarrow"])
            .output()
            .is_ok_and(|output| output.status.success());
        if works {
            return Some(python);
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "DuckDB for Python is missing under CI=true; .ci/run installs it into .venv"
    );
    eprintln!("skipping: no Python with duckdb and pyarrow (run .ci/run or create .venv)");
    None
}

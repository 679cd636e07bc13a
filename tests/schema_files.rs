//! `schemas/` holds the `schema` command's output, and the Parquet files the writer produces
//! carry exactly the columns and types it describes.

mod common;

use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{LogicalType, TimeUnit};
use serde_json::Value;

/// Each file with the format and the lake location it was generated for. Trino needs an
/// absolute URI, so its file names a bucket.
const SCHEMA_FILES: &[(&str, &str, &str)] = &[
    ("json", "copilot-lake-demo", "schemas/tables.json"),
    ("duckdb", "copilot-lake-demo", "schemas/duckdb.sql"),
    ("spark", "copilot-lake-demo", "schemas/spark.sql"),
    ("trino", "s3://my-bucket/copilot-lake", "schemas/trino.sql"),
];

#[test]
fn schema_files_match_the_command() {
    for (format, lake, file) in SCHEMA_FILES {
        let output = common::copilot_lake(&["schema", "--format", format, "--lake", lake]);
        common::assert_success(&output);
        let committed = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            committed,
            "{file} is stale; regenerate it with: copilot-lake schema --format {format} --lake {lake} > {file}"
        );
    }
}

/// Trino is not available here, so its DDL is checked by parsing it as Trino SQL (sqlglot)
/// and by the table definitions it must contain.
#[test]
fn trino_ddl_parses_as_trino_sql() {
    let Some(python) = common::python_with(&["sqlglot"]) else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_trino_ddl.py");
    let ddl = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/trino.sql");
    let output = std::process::Command::new(python).arg(script).arg(ddl).output().expect("python runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}\n{}", String::from_utf8_lossy(&output.stderr));

    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/tables.json"))
            .expect("tables.json"),
    )
    .expect("JSON");
    for table in schema["tables"].as_array().expect("tables") {
        let name = table["name"].as_str().expect("name");
        let mut columns: Vec<&str> =
            table["columns"].as_array().expect("columns").iter().map(|c| c["name"].as_str().expect("column")).collect();
        columns.push("date");
        let line = format!("{name}: {} partitioned by date at s3://my-bucket/copilot-lake/{name}", columns.join(","));
        assert!(report.lines().any(|l| l == line), "expected `{line}` in:\n{report}");
    }
}

fn json_type(field: &arrow::datatypes::Field) -> &'static str {
    match field.data_type() {
        arrow::datatypes::DataType::Utf8 => "string",
        arrow::datatypes::DataType::Int32 => "int32",
        arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some(tz))
            if tz.as_ref() == "UTC" =>
        {
            "timestamp[us, UTC]"
        }
        other => panic!("{} has an unexpected type {other}", field.name()),
    }
}

#[test]
fn written_parquet_matches_schema_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    common::assert_success(&common::copilot_lake(&["demo", "--out", &lake.display().to_string()]));

    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/tables.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("tables.json")).expect("JSON");
    for table in schema["tables"].as_array().expect("tables") {
        let name = table["name"].as_str().expect("name");
        let files = common::data_files(&lake, name);
        assert!(!files.is_empty(), "the demo wrote no {name} files");

        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&files[0]).expect("open"))
            .expect("parquet footer");
        let written: Vec<(String, &'static str, bool)> = reader
            .schema()
            .fields()
            .iter()
            .map(|field| (field.name().clone(), json_type(field), field.is_nullable()))
            .collect();
        let described: Vec<(String, &str, bool)> = table["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                let name = c["name"].as_str().expect("column name").to_owned();
                (name, c["type"].as_str().expect("type"), c["nullable"].as_bool().expect("nullable"))
            })
            .collect();
        let written: Vec<(String, &str, bool)> = written.into_iter().collect();
        assert_eq!(written, described, "{name}");

        // Readers without the embedded Arrow schema (Spark, Trino) rely on the Parquet types.
        for column in reader.parquet_schema().columns() {
            if column.name() == "created_date_time" {
                assert_eq!(column.logical_type_ref(), Some(&LogicalType::timestamp(true, TimeUnit::MICROS)));
            }
        }
    }
}

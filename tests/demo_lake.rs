//! The demo lake read the way analysts read it: DuckDB with hive partitioning. Row counts must
//! equal what the simulator served, keys must be unique, every child row must have its parent
//! in the same partition, and partitions must be the UTC date of `created_date_time`.

mod common;

use std::process::Command;

use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};

#[test]
fn demo_lake_passes_duckdb_checks() {
    let Some(python) = common::python_with_duckdb() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("demo-lake");
    let lake_arg = lake.display().to_string();

    let output = common::copilot_lake(&["demo", "--out", &lake_arg]);
    common::assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("read_parquet("), "the demo prints a DuckDB query:\n{stdout}");

    let options = GenerateOptions::default();
    let dataset = Dataset::generate(&options);
    let served = dataset
        .licensed_users()
        .flat_map(|user| dataset.records_in_window(&user.id, options.start, options.end))
        .map(|record| &record.json);
    let expected = common::expected_counts(served);
    assert!(expected["interactions"] > 1000, "the demo has a few thousand interactions");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/check_lake.py");
    let expected_json = serde_json::to_string(&expected).expect("JSON");
    let check = Command::new(python).args([script, &lake_arg, &expected_json]).output().expect("python runs");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "DuckDB checks failed:\n{report}\n{}", String::from_utf8_lossy(&check.stderr));
    assert_eq!(report.matches("ok   ").count(), 5 + 1 + 4 * 3 + 2, "every check ran:\n{report}");
}

#[test]
fn demo_replaces_its_own_lake_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("not-a-lake");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), "keep me").expect("write");

    let output = common::copilot_lake(&["demo", "--out", &other.display().to_string()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(common::stderr(&output).contains("is not a demo lake"), "{}", common::stderr(&output));
    assert_eq!(std::fs::read_to_string(other.join("notes.txt")).expect("kept"), "keep me");
}

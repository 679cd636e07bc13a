//! `sync` against the simulator through the real binary: paging, the window bounds, per-user
//! outcomes, the token's destination, the run summary and continuing from stored state.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use serde_json::{Value, json};

fn keys_in_lake(lake: &std::path::Path) -> BTreeSet<(String, String, String)> {
    common::read_table(lake, "interactions")
        .into_iter()
        .map(|row| {
            let text = |column: &str| row[column].as_str().expect("key column").to_owned();
            (text("user_id"), text("session_id"), text("interaction_id"))
        })
        .collect()
}

fn record(id: &str, created: &str) -> Value {
    json!({
        "id": id,
        "sessionId": "19:bounds@thread.v2",
        "appClass": "IPM.SkypeTeams.Message.Copilot.Word",
        "interactionType": "userPrompt",
        "createdDateTime": created,
        "contexts": [], "attachments": [], "links": [], "mentions": []
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_of_every_user_lands() {
    let options =
        GenerateOptions { users: 3, unlicensed_users: 1, interactions_per_user: 250, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let mut expected = BTreeSet::new();
    for user in dataset.licensed_users() {
        for record in dataset.records_in_window(&user.id, options.start, options.end) {
            let text = |field: &str| record.json[field].as_str().expect("key field").to_owned();
            expected.insert((user.id.clone(), text("sessionId"), text("id")));
        }
    }
    assert!(expected.len() > 600, "several pages per user: {}", expected.len());

    let simulator = common::start_simulator(dataset).await;
    let lake = tempfile::tempdir().expect("tempdir");
    let summary = lake.path().join("summary.json");
    let since = options.start.to_rfc3339();
    let until = options.end.to_rfc3339();
    let summary_arg = summary.display().to_string();
    let output =
        common::sync(&simulator, lake.path(), &["--since", &since, "--until", &until, "--summary", &summary_arg]).await;
    common::assert_success(&output);

    assert_eq!(keys_in_lake(lake.path()), expected);
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("JSON");
    assert_eq!(summary["users"]["ok"], 3);
    assert_eq!(summary["rows"]["interactions"], expected.len());
    assert!(summary["pages"].as_u64().expect("pages") >= 9, "{summary}");
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn window_is_half_open() {
    let mut dataset = Dataset::empty();
    let records = vec![
        record("before-start", "2026-11-01T00:00:00.9999989Z"),
        record("at-start", "2026-11-01T00:00:01Z"),
        record("inside", "2026-11-15T12:00:00.5Z"),
        record("just-before-end", "2026-11-30T23:59:59.999999Z"),
        record("at-end", "2026-12-01T00:00:00Z"),
    ];
    dataset.add_records("bounds-user", records).expect("records");
    let simulator = common::start_simulator(dataset).await;
    let lake = tempfile::tempdir().expect("tempdir");

    let output = common::sync(
        &simulator,
        lake.path(),
        &["--user", "bounds-user", "--since", "2026-11-01T00:00:01Z", "--until", "2026-12-01"],
    )
    .await;
    common::assert_success(&output);

    let ids: BTreeSet<String> = keys_in_lake(lake.path()).into_iter().map(|(_, _, id)| id).collect();
    let expected: BTreeSet<String> = ["at-start", "inside", "just-before-end"].map(String::from).into();
    assert_eq!(ids, expected);
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unlicensed_user_is_skipped_and_recorded() {
    let options =
        GenerateOptions { users: 1, unlicensed_users: 1, interactions_per_user: 20, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let licensed = dataset.licensed_users().next().expect("licensed user").id.clone();
    let unlicensed = dataset.users.iter().find(|user| !user.licensed).expect("unlicensed user").id.clone();
    let simulator = common::start_simulator(dataset).await;
    let lake = tempfile::tempdir().expect("tempdir");
    let summary = lake.path().join("summary.json");
    let summary_arg = summary.display().to_string();

    let output = common::sync(
        &simulator,
        lake.path(),
        &[
            "--user",
            &licensed,
            "--user",
            &unlicensed,
            "--since",
            "2026-10-01",
            "--until",
            "2026-12-01",
            "--summary",
            &summary_arg,
        ],
    )
    .await;
    common::assert_success(&output);

    let summary: Value = serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("JSON");
    assert_eq!(summary["users"]["ok"], 1);
    assert_eq!(summary["users"]["not_licensed"], 1);
    assert_eq!(summary["skipped_users"][0]["user_id"], unlicensed.as_str());
    assert_eq!(summary["skipped_users"][0]["outcome"], "not_licensed");
    let users: BTreeSet<String> = keys_in_lake(lake.path()).into_iter().map(|(user, _, _)| user).collect();
    assert_eq!(users, BTreeSet::from([licensed]));
    simulator.shutdown().await;
}

/// A Graph stand-in whose only page links to another origin, and that other origin, which
/// counts the requests it gets.
async fn foreign_link_servers() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let foreign = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let foreign_addr = foreign.local_addr().expect("addr");
    let foreign_app = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "{\"value\":[]}" }
    });
    tokio::spawn(async move { axum::serve(foreign, foreign_app).await });

    let graph = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let graph_addr = graph.local_addr().expect("addr");
    let link = format!(
        "http://{foreign_addr}/v1.0/copilot/users/u1/interactionHistory/getAllEnterpriseInteractions?$skiptoken=x"
    );
    let page = json!({ "value": [record("1", "2026-11-02T00:00:00Z")], "@odata.nextLink": link }).to_string();
    let graph_app = Router::new().route(
        "/v1.0/copilot/users/{user}/interactionHistory/getAllEnterpriseInteractions",
        get(move || {
            let page = page.clone();
            async move { ([("content-type", "application/json")], page) }
        }),
    );
    tokio::spawn(async move { axum::serve(graph, graph_app).await });
    (format!("http://{graph_addr}/v1.0"), hits)
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_next_link_is_refused() {
    let (graph_url, foreign_hits) = foreign_link_servers().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "opaque-test-token").expect("token file");
    let lake = dir.path().join("lake");
    let summary = dir.path().join("summary.json");

    let args = [
        "sync",
        "--out",
        &lake.display().to_string(),
        "--graph-url",
        &graph_url,
        "--access-token-file",
        &token_file.display().to_string(),
        "--user",
        "u1",
        "--since",
        "2026-11-01",
        "--until",
        "2026-12-01",
        "--summary",
        &summary.display().to_string(),
    ]
    .map(String::from);
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::copilot_lake(&args)
    })
    .await
    .expect("sync task");

    assert_eq!(output.status.code(), Some(3), "{}", common::stderr(&output));
    assert_eq!(foreign_hits.load(Ordering::SeqCst), 0, "the foreign origin got a request");
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("JSON");
    let error = summary["failed_users"][0]["error"].as_str().expect("error text");
    assert!(error.contains("refusing to follow @odata.nextLink"), "{error}");
    assert!(common::data_files(&lake, "interactions").is_empty(), "the failed user's first page was kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn second_run_continues_from_state() {
    let options =
        GenerateOptions { users: 4, unlicensed_users: 0, interactions_per_user: 120, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let total: usize = dataset
        .licensed_users()
        .map(|user| dataset.records_in_window(&user.id, options.start, options.end).len())
        .sum();
    let simulator = common::start_simulator(dataset).await;
    let lake = tempfile::tempdir().expect("tempdir");

    let first = common::sync(&simulator, lake.path(), &["--since", "2026-10-01", "--until", "2026-11-01"]).await;
    common::assert_success(&first);
    let after_first = keys_in_lake(lake.path()).len();
    assert!(after_first > 0 && after_first < total, "{after_first} of {total}");

    let second = common::sync(&simulator, lake.path(), &["--until", "2026-12-01"]).await;
    common::assert_success(&second);
    assert_eq!(common::read_table(lake.path(), "interactions").len(), total, "no duplicates, no gaps");
    assert_eq!(keys_in_lake(lake.path()).len(), total);
    simulator.shutdown().await;
}

#[test]
fn bad_flags_exit_2_with_the_fix() {
    let output = common::copilot_lake(&[
        "sync",
        "--out",
        "/tmp/unused-lake",
        "--tenant-id",
        "t",
        "--client-id",
        "c",
        "--graph-url",
        "http://graph.example.com/v1.0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = common::stderr(&output);
    assert!(stderr.contains("plain http"), "{stderr}");
    assert!(!stderr.contains(common::SECRET), "the secret leaked: {stderr}");
}

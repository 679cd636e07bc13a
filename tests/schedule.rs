//! An hourly schedule played with `--until` steps against a simulator where a share of records
//! appears late: with a lookback longer than the delay, every record that appeared is in the lake
//! once, with all its child rows.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use copilot_lake::simulate::late::{LateRecords, SimClock};
use copilot_lake::simulate::server::{self, ServerOptions};

fn at(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, 0, 0).single().expect("valid time")
}

#[tokio::test(flavor = "multi_thread")]
async fn hourly_runs_catch_late_records_once() {
    let start = at(2026, 11, 1, 0);
    let end = at(2026, 11, 3, 0);
    let options = GenerateOptions {
        users: 4,
        unlicensed_users: 0,
        interactions_per_user: 240,
        start,
        end,
        ..GenerateOptions::default()
    };
    let dataset = Dataset::generate(&options);
    let clock = SimClock::default();
    let late = LateRecords { share: 0.2, delay: Duration::minutes(90), clock: clock.clone() };
    let settle = Duration::minutes(15);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let server_options = ServerOptions {
        client_secret: Some(common::SECRET.into()),
        late: Some(late.clone()),
        ..ServerOptions::default()
    };
    let dataset = Arc::new(dataset);
    let simulator = server::start(Arc::clone(&dataset), server_options, listener).await.expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");

    let mut until = start + Duration::hours(1);
    let mut late_caught_by_lookback = 0;
    while until <= end {
        clock.set(until + settle);
        let until_arg = until.to_rfc3339();
        let output =
            common::sync(&simulator, &lake, &["--until", &until_arg, "--initial-lookback", "1h", "--lookback", "2h"])
                .await;
        common::assert_success(&output);
        until += Duration::hours(1);
    }

    let final_now = clock.now();
    let mut expected_keys = BTreeSet::new();
    let mut expected_records = Vec::new();
    for user in dataset.licensed_users() {
        for record in dataset.records_in_window(&user.id, start, end) {
            if late.visible_at(record) <= final_now {
                let text = |field: &str| record.json[field].as_str().expect("key field").to_owned();
                expected_keys.insert((user.id.clone(), text("sessionId"), text("id")));
                expected_records.push(&record.json);
                let caught_later =
                    late.is_late(record) && late.visible_at(record) > record.created + Duration::hours(1) - settle;
                late_caught_by_lookback += usize::from(caught_later);
            }
        }
    }
    assert!(
        late_caught_by_lookback > 20,
        "the data must have records that only a lookback catches: {late_caught_by_lookback}"
    );

    let rows = common::read_table(&lake, "interactions");
    let keys: Vec<(String, String, String)> = rows
        .iter()
        .map(|row| {
            let text = |column: &str| row[column].as_str().expect("key column").to_owned();
            (text("user_id"), text("session_id"), text("interaction_id"))
        })
        .collect();
    let unique: BTreeSet<_> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "duplicate keys in the lake");
    let missing: Vec<_> = expected_keys.difference(&unique).take(3).collect();
    let extra: Vec<_> = unique.difference(&expected_keys).take(3).collect();
    assert!(
        missing.is_empty(),
        "{} records missing after 48 hourly runs, such as {missing:?}",
        expected_keys.difference(&unique).count()
    );
    assert!(
        extra.is_empty(),
        "{} records in the lake that never appeared, such as {extra:?}",
        unique.difference(&expected_keys).count()
    );
    let expected_counts = common::expected_counts(expected_records);
    for table in ["contexts", "attachments", "links", "mentions"] {
        assert_eq!(common::read_table(&lake, table).len() as u64, expected_counts[table], "{table} rows");
    }
    simulator.shutdown().await;
}

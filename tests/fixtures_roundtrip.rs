//! Every documented Graph sample goes through the simulator, the real binary and Parquet, and
//! every field read back equals the source JSON.

mod common;

use std::path::Path;

use chrono::{DateTime, SecondsFormat};
use copilot_lake::simulate::dataset::Dataset;
use serde_json::{Map, Value};

/// The fixtures that hold interactions: a page, a bare array, or one record.
const FIXTURES: &[&str] = &[
    "v1-example1-teams-meeting-aiResponse.json",
    "v1-example2-bizchat-pair-links-adaptivecard.json",
    "beta-example2-bizchat-aiResponse-clarification.json",
    "m365copilot-example3-createdDateTime-bizchat-userPrompt.json",
    "teams-export-meeting-pair-missing-contexts.json",
    "changenotification-decrypted-resource.json",
];

const INTERACTION_COLUMNS: &[(&str, &str)] = &[
    ("request_id", "/requestId"),
    ("app_class", "/appClass"),
    ("interaction_type", "/interactionType"),
    ("conversation_type", "/conversationType"),
    ("etag", "/etag"),
    ("locale", "/locale"),
    ("from_user_id", "/from/user/id"),
    ("from_user_display_name", "/from/user/displayName"),
    ("from_user_identity_type", "/from/user/userIdentityType"),
    ("from_user_tenant_id", "/from/user/tenantId"),
    ("from_application_id", "/from/application/id"),
    ("from_application_display_name", "/from/application/displayName"),
    ("from_application_identity_type", "/from/application/applicationIdentityType"),
    ("from_device_id", "/from/device/id"),
    ("from_device_display_name", "/from/device/displayName"),
    ("body_content_type", "/body/contentType"),
    ("body_content", "/body/content"),
];

/// A child table, the record's list field that feeds it, and its (column, JSON pointer) pairs.
type ChildTable = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

const CHILD_COLUMNS: &[ChildTable] = &[
    (
        "contexts",
        "contexts",
        &[
            ("context_reference", "/contextReference"),
            ("context_type", "/contextType"),
            ("display_name", "/displayName"),
        ],
    ),
    (
        "attachments",
        "attachments",
        &[
            ("attachment_id", "/attachmentId"),
            ("content_type", "/contentType"),
            ("content_url", "/contentUrl"),
            ("content", "/content"),
            ("name", "/name"),
        ],
    ),
    ("links", "links", &[("link_url", "/linkUrl"), ("link_type", "/linkType"), ("display_name", "/displayName")]),
    (
        "mentions",
        "mentions",
        &[
            ("mention_id", "/mentionId"),
            ("mention_text", "/mentionText"),
            ("mentioned_user_id", "/mentioned/user/id"),
            ("mentioned_user_display_name", "/mentioned/user/displayName"),
            ("mentioned_application_id", "/mentioned/application/id"),
            ("mentioned_application_display_name", "/mentioned/application/displayName"),
            ("mentioned_conversation_id", "/mentioned/conversation/id"),
            ("mentioned_conversation_display_name", "/mentioned/conversation/displayName"),
            ("mentioned_conversation_identity_type", "/mentioned/conversation/conversationIdentityType"),
            ("mentioned_tag_id", "/mentioned/tag/id"),
            ("mentioned_tag_display_name", "/mentioned/tag/displayName"),
        ],
    ),
];

fn fixture_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The records of a fixture file, in the three shapes the samples use.
fn records_of(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture");
    match serde_json::from_str::<Value>(&text).expect("fixture JSON") {
        Value::Array(records) => records,
        Value::Object(object) if object.contains_key("value") => {
            object["value"].as_array().expect("value array").clone()
        }
        record => vec![record],
    }
}

fn user_of(name: &str) -> String {
    format!("user-{}", name.trim_end_matches(".json"))
}

fn source(record: &Value, pointer: &str) -> Value {
    record.pointer(pointer).cloned().unwrap_or(Value::Null)
}

fn find_row<'a>(
    rows: &'a [Map<String, Value>],
    user: &str,
    record: &Value,
    ordinal: Option<usize>,
) -> &'a Map<String, Value> {
    let matches: Vec<_> = rows
        .iter()
        .filter(|row| {
            row["user_id"] == user
                && row["session_id"] == record["sessionId"]
                && row["interaction_id"] == record["id"]
                && ordinal.is_none_or(|ordinal| row["ordinal"] == ordinal)
        })
        .collect();
    assert_eq!(matches.len(), 1, "rows for {user} {} ordinal {ordinal:?}", record["id"]);
    matches[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn samples_round_trip_field_by_field() {
    let mut dataset = Dataset::empty();
    for name in FIXTURES {
        dataset.add_records_file(&user_of(name), &fixture_path(name)).expect("fixture loads");
    }
    let simulator = common::start_simulator(dataset).await;
    let lake = tempfile::tempdir().expect("tempdir");

    let mut flags: Vec<String> = vec!["--since".into(), "2024-01-01".into(), "--until".into(), "2026-01-01".into()];
    for name in FIXTURES {
        flags.push("--user".into());
        flags.push(user_of(name));
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = common::sync(&simulator, lake.path(), &flags).await;
    common::assert_success(&output);

    let interactions = common::read_table(lake.path(), "interactions");
    let mut expected_rows = 0;
    for name in FIXTURES {
        let user = user_of(name);
        for record in records_of(name) {
            expected_rows += 1;
            let row = find_row(&interactions, &user, &record, None);
            for (column, pointer) in INTERACTION_COLUMNS {
                assert_eq!(row[*column], source(&record, pointer), "{name}: {column}");
            }
            let created =
                DateTime::parse_from_rfc3339(record["createdDateTime"].as_str().expect("time")).expect("RFC 3339");
            let created_micros = created.to_utc().to_rfc3339_opts(SecondsFormat::Micros, true);
            assert_eq!(row["created_date_time"], created_micros.as_str(), "{name}: created_date_time");
            assert_eq!(row["date"], created.to_utc().format("%Y-%m-%d").to_string().as_str(), "{name}: date");
        }
    }
    assert_eq!(interactions.len(), expected_rows, "interaction rows");

    for (table, list, columns) in CHILD_COLUMNS {
        let rows = common::read_table(lake.path(), table);
        let mut expected_rows = 0;
        for name in FIXTURES {
            let user = user_of(name);
            for record in records_of(name) {
                let elements = record[*list].as_array().cloned().unwrap_or_default();
                for (ordinal, element) in elements.iter().enumerate() {
                    expected_rows += 1;
                    let row = find_row(&rows, &user, &record, Some(ordinal));
                    for (column, pointer) in *columns {
                        assert_eq!(row[*column], source(element, pointer), "{name}: {table}.{column}");
                    }
                    let parent = find_row(&interactions, &user, &record, None);
                    assert_eq!(row["date"], parent["date"], "{name}: {table} partition");
                }
            }
        }
        assert_eq!(rows.len(), expected_rows, "{table} rows");
        assert!(expected_rows > 0 || *table == "mentions", "the samples have {table}");
    }

    simulator.shutdown().await;
}

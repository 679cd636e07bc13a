//! The privacy controls through the real binary. Under `--content hash|drop` and
//! `--pseudonymize-users`, no Parquet file contains an original user id, display name or message
//! text, by its bytes or by the values read back. Joins across tables and runs still match.

mod common;

use std::path::{Path, PathBuf};

use copilot_lake::privacy::PrivacyKey;
use copilot_lake::simulate::dataset::Dataset;
use serde_json::{Map, Value, json};

const ALICE: &str = "a1ice-0000-guid";
const BOB: &str = "b0b-0000-guid";
const ALICE_NAME: &str = "Alice Marker-Name";
const BOB_NAME: &str = "Bob Marker-Name";
const OCTOBER_PROMPT: &str = "PROMPT-OCT-alice-unique-text";
const NOVEMBER_PROMPT: &str = "PROMPT-NOV-bob-unique-text";
const SHARED_PROMPT: &str = "SHARED-PROMPT-text-of-both";
const CARD_ANSWER: &str = "CARD-ANSWER-unique-text";
const MENTION_TEXT: &str = "Bob-Mention-Text";
const REJECTED_TEXT: &str = "REJECTED-CONTENT-marker";

/// Every original value that must not reach a Parquet file under both controls.
const ORIGINALS: [&str; 9] =
    [ALICE, BOB, ALICE_NAME, BOB_NAME, OCTOBER_PROMPT, NOVEMBER_PROMPT, SHARED_PROMPT, CARD_ANSWER, MENTION_TEXT];

/// The key file's content: 64 hex digits and a newline, as `openssl rand -hex 32` writes it.
const KEY_TEXT: &str = "3f1c9a7be2d45608f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c\n";

fn key() -> PrivacyKey {
    PrivacyKey::new(KEY_TEXT.trim().as_bytes()).expect("key")
}

fn user(id: &str, name: &str) -> Value {
    json!({ "user": { "id": id, "displayName": name, "userIdentityType": "aadUser", "tenantId": "tenant-1" } })
}

fn prompt(id: &str, created: &str, from: Value, text: &str) -> Value {
    json!({
        "id": id, "sessionId": format!("19:session-{id}@thread.v2"), "requestId": format!("req-{id}"),
        "appClass": "IPM.SkypeTeams.Message.Copilot.BizChat", "interactionType": "userPrompt",
        "createdDateTime": created, "from": from,
        "body": { "contentType": "text", "content": text },
        "contexts": [], "attachments": [], "links": [], "mentions": []
    })
}

fn card() -> String {
    json!({ "type": "AdaptiveCard", "body": [{ "type": "TextBlock", "text": CARD_ANSWER }] }).to_string()
}

fn dataset() -> Dataset {
    let mut alice_prompt = prompt("p1", "2026-10-05T09:00:00Z", user(ALICE, ALICE_NAME), OCTOBER_PROMPT);
    alice_prompt["mentions"] =
        json!([{ "mentionId": 0, "mentionText": MENTION_TEXT, "mentioned": user(BOB, BOB_NAME) }]);
    let mut response = prompt(
        "r1",
        "2026-10-05T09:00:05Z",
        json!({ "application": { "id": "copilot", "displayName": "Copilot" } }),
        "",
    );
    response["interactionType"] = json!("aiResponse");
    response["body"] = json!({ "contentType": "html", "content": "<attachment id=\"card-1\"></attachment>" });
    response["attachments"] = json!([{ "attachmentId": "card-1", "contentType": "application/vnd.microsoft.card.adaptive", "content": card() }]);
    let mut rejected = prompt("x1", "2026-11-20T10:00:00Z", user(ALICE, ALICE_NAME), "");
    rejected["body"] = json!(REJECTED_TEXT);

    let mut dataset = Dataset::empty();
    let alice = vec![
        alice_prompt,
        response,
        prompt("p2", "2026-11-10T10:00:00Z", user(ALICE, ALICE_NAME), SHARED_PROMPT),
        rejected,
    ];
    dataset.add_records(ALICE, alice).expect("alice's records");
    let bob = vec![
        prompt("p3", "2026-10-06T11:00:00Z", user(BOB, BOB_NAME), SHARED_PROMPT),
        prompt("p4", "2026-11-11T12:00:00Z", user(BOB, BOB_NAME), NOVEMBER_PROMPT),
    ];
    dataset.add_records(BOB, bob).expect("bob's records");
    dataset
}

/// Syncs `[since, until)` of both users into `lake` with `flags`, uncompressed so the bytes
/// can be searched, and returns the summary.
async fn sync(
    simulator: &copilot_lake::simulate::RunningSimulator,
    lake: &Path,
    since: &str,
    until: &str,
    flags: &[&str],
) -> Value {
    let summary = lake.with_extension("summary.json");
    let summary_arg = summary.display().to_string();
    let mut args = vec![
        "--user",
        ALICE,
        "--user",
        BOB,
        "--since",
        since,
        "--until",
        until,
        "--compression",
        "none",
        "--summary",
        &summary_arg,
    ];
    args.extend_from_slice(flags);
    let output = common::sync(simulator, lake, &args).await;
    common::assert_success(&output);
    serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("summary JSON")
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// Asserts that no Parquet file contains an original value, by its bytes and by its values,
/// and that the lake's rejection files contain none either.
fn assert_no_originals(lake: &Path) {
    let files = all_files(lake);
    let parquet: Vec<&PathBuf> = files.iter().filter(|path| path.extension().is_some_and(|e| e == "parquet")).collect();
    assert!(parquet.len() >= 5, "files of every table: {parquet:?}");
    for file in parquet {
        let bytes = std::fs::read(file).expect("parquet file");
        for original in ORIGINALS {
            assert!(!contains(&bytes, original), "{} holds '{original}'", file.display());
        }
    }
    for table in ["interactions", "contexts", "attachments", "links", "mentions"] {
        for row in common::read_table(lake, table) {
            for (column, value) in &row {
                let text = value.as_str().unwrap_or_default();
                for original in ORIGINALS {
                    assert!(!text.contains(original), "{table}.{column} holds '{original}'");
                }
            }
        }
    }
    for file in files.iter().filter(|path| path.to_string_lossy().contains("/_copilot_lake/rejected/")) {
        let bytes = std::fs::read(file).expect("rejection file");
        for original in ORIGINALS.iter().chain([&REJECTED_TEXT]) {
            assert!(!contains(&bytes, original), "{} holds '{original}'", file.display());
        }
    }
}

fn row<'a>(rows: &'a [Map<String, Value>], id: &str) -> &'a Map<String, Value> {
    rows.iter().find(|row| row["interaction_id"] == id).unwrap_or_else(|| panic!("row of interaction {id}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn hashed_lake_keeps_joins_and_no_originals() {
    let simulator = common::start_simulator(dataset()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("lake.key");
    std::fs::write(&key_file, KEY_TEXT).expect("key file");
    let key_arg = key_file.display().to_string();
    let flags = ["--content", "hash", "--pseudonymize-users", key_arg.as_str()];
    let lake = dir.path().join("lake");

    // Two runs, one a month, with the key file shared by both controls.
    let october = sync(&simulator, &lake, "2026-10-01", "2026-11-01", &flags).await;
    let november = sync(&simulator, &lake, "2026-11-01", "2026-12-01", &flags).await;
    assert_eq!(october["rows"]["interactions"], 3);
    assert_eq!(november["rows"]["interactions"], 2);
    assert_eq!(november["rejected_records"], 1);
    assert_no_originals(&lake);

    let key = key();
    let alice = key.hash_hex(ALICE);
    // The value of `printf %s a1ice-0000-guid | openssl dgst -sha256 -hmac "$(cat KEY_FILE)"`.
    assert_eq!(alice, "1e8d095bdfdd5e6f41245ca0cc679f95f5a808badb447959936f79d03f23c35d");
    let bob = key.hash_hex(BOB);
    let interactions = common::read_table(&lake, "interactions");

    // The same pseudonym in both runs and in the key and the sender columns.
    for id in ["p1", "r1", "p2"] {
        assert_eq!(row(&interactions, id)["user_id"], alice.as_str(), "{id}");
    }
    assert_eq!(row(&interactions, "p1")["date"], "2026-10-05");
    assert_eq!(row(&interactions, "p2")["date"], "2026-11-10");
    assert_eq!(row(&interactions, "p1")["from_user_id"], alice.as_str());
    assert_eq!(row(&interactions, "p2")["from_user_id"], alice.as_str());
    assert_eq!(row(&interactions, "p1")["from_user_display_name"], key.hash_hex(ALICE_NAME).as_str());
    assert_eq!(row(&interactions, "p1")["from_user_tenant_id"], "tenant-1");
    assert_eq!(row(&interactions, "p4")["user_id"], bob.as_str());

    let mentions = common::read_table(&lake, "mentions");
    assert_eq!(mentions.len(), 1);
    assert_eq!(mentions[0]["user_id"], alice.as_str());
    assert_eq!(mentions[0]["mentioned_user_id"], bob.as_str(), "joins bob's own rows");
    assert_eq!(mentions[0]["mentioned_user_display_name"], key.hash_hex(BOB_NAME).as_str());
    assert_eq!(mentions[0]["mention_text"], key.hash_hex(MENTION_TEXT).as_str());

    // Equal texts still match, across users and runs; the card text is hashed as body_text.
    assert_eq!(row(&interactions, "p1")["body_content"], key.hash_hex(OCTOBER_PROMPT).as_str());
    assert_eq!(row(&interactions, "p1")["body_text"], key.hash_hex(OCTOBER_PROMPT).as_str());
    assert_eq!(row(&interactions, "p3")["body_content"], row(&interactions, "p2")["body_content"]);
    assert_eq!(row(&interactions, "p3")["body_content"], key.hash_hex(SHARED_PROMPT).as_str());
    assert_eq!(row(&interactions, "r1")["body_text"], key.hash_hex(CARD_ANSWER).as_str());
    assert_eq!(row(&interactions, "r1")["body_content_type"], "html");
    let attachments = common::read_table(&lake, "attachments");
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["content"], key.hash_hex(&card()).as_str());
    assert_eq!(attachments[0]["user_id"], alice.as_str(), "child rows join their interaction");

    // The rejected record is withheld: its time and size only.
    let rejected_dir = lake.join("_copilot_lake/rejected");
    let rejected = all_files(&rejected_dir);
    assert_eq!(rejected.len(), 1);
    let entries: Value = serde_json::from_slice(&std::fs::read(&rejected[0]).expect("file")).expect("JSON");
    assert_eq!(entries[0]["user_id"], alice.as_str());
    assert_eq!(entries[0]["field"], "body");
    assert!(entries[0].get("record").is_none(), "{entries}");
    assert_eq!(entries[0]["withheld"]["created_date_time"], "2026-11-20T10:00:00Z");

    // Runs with other settings would mix pseudonyms, so they are refused.
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, KEY_TEXT.replace('3', "4")).expect("key file");
    let other_arg = other_key.display().to_string();
    let lake_arg = lake.display().to_string();
    for flags in [
        vec!["--content", "hash", "--pseudonymize-users", other_arg.as_str()],
        vec!["--content", "hash", "--content-key-file", key_arg.as_str()],
        vec![],
    ] {
        let mut args = vec!["--user", ALICE, "--since", "2026-11-01", "--until", "2026-12-01"];
        args.extend(flags.iter().copied());
        let output = common::sync(&simulator, &lake, &args).await;
        let stderr = common::stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(&format!("the lake at {lake_arg} was written with --content hash")), "{stderr}");
    }
    assert_no_originals(&lake);
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_content_is_null() {
    let simulator = common::start_simulator(dataset()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("lake.key");
    std::fs::write(&key_file, KEY_TEXT).expect("key file");
    let key_arg = key_file.display().to_string();
    let lake = dir.path().join("lake");

    let flags = ["--content", "drop", "--pseudonymize-users", key_arg.as_str()];
    let summary = sync(&simulator, &lake, "2026-10-01", "2026-12-01", &flags).await;
    assert_eq!(summary["rows"]["interactions"], 5);
    assert_no_originals(&lake);

    for row in common::read_table(&lake, "interactions") {
        assert_eq!(row["body_content"], Value::Null, "{row:?}");
        assert_eq!(row["body_text"], Value::Null, "{row:?}");
        assert_ne!(row["body_content_type"], Value::Null, "the content type stays");
    }
    let attachments = common::read_table(&lake, "attachments");
    assert_eq!(attachments[0]["content"], Value::Null);
    assert_eq!(attachments[0]["attachment_id"], "card-1");
    assert_eq!(common::read_table(&lake, "mentions")[0]["mention_text"], Value::Null);
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn privacy_flags_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake").display().to_string();
    let short_key = dir.path().join("short.key");
    std::fs::write(&short_key, "password\n").expect("key file");
    let short_arg = short_key.display().to_string();
    let base = ["sync", "--out", &lake, "--tenant-id", "t", "--client-id", "c", "--user", "u"];

    let cases: [(&[&str], &str); 3] = [
        (&["--content", "hash"], "--content hash needs a key"),
        (&["--pseudonymize-users", &short_arg], "fewer than the 32"),
        (&["--content-key-file", &short_arg, "--content", "hash"], "--content-key-file key file"),
    ];
    for (flags, message) in cases {
        let args: Vec<&str> = base.iter().chain(flags).copied().collect();
        let output = common::copilot_lake(&args);
        let stderr = common::stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(!stderr.contains("password"), "a key file's content is never shown: {stderr}");
    }
}

//! Bad pages and records through the real binary and the simulator: each one is retried, fails
//! its user with an error that names the user, the page and the field, or becomes a counted
//! rejection kept in `_copilot_lake/rejected/`. The other users' data lands intact, and no log
//! line, error or rejection quotes a value from a record.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use copilot_lake::simulate::dataset::Dataset;
use copilot_lake::simulate::server::{self, ServerOptions};
use serde_json::{Value, json};

/// Text that stands for prompt content: it must never appear in logs, errors or reasons.
const PRIVATE: &str = "private words of a prompt";

/// The size of the attachment that tests huge fields.
const HUGE: usize = 20 * 1024 * 1024;

fn record(id: &str) -> Value {
    json!({
        "id": id,
        "sessionId": format!("19:{id}@thread.v2"),
        "appClass": "IPM.SkypeTeams.Message.Copilot.BizChat",
        "interactionType": "userPrompt",
        "createdDateTime": "2026-11-10T08:00:00Z",
        "body": { "contentType": "text", "content": "a prompt" },
        "contexts": [], "attachments": [], "links": [], "mentions": []
    })
}

fn with(mut record: Value, field: &str, value: Value) -> Value {
    record[field] = value;
    record
}

fn without(mut record: Value, field: &str) -> Value {
    record.as_object_mut().expect("object").remove(field);
    record
}

fn page(records: &[Value]) -> String {
    json!({ "value": records }).to_string()
}

/// `depth` nested arrays: deeper than any JSON parser's default recursion limit.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// What must happen to one user's window.
enum Outcome {
    /// The window lands: these interaction ids, and rejections at these fields.
    Lands { ids: &'static [&'static str], rejected: &'static [&'static str] },
    /// The user fails with an error that contains each of these.
    Fails { error: &'static [&'static str] },
}

struct Case {
    user: &'static str,
    outcome: Outcome,
}

/// Builds the dataset: records through `add_records`, verbatim pages through `add_raw_pages`.
/// `graph_url` is where the simulator will listen, for links that point back at it.
fn dataset(graph_url: &str) -> (Dataset, Vec<Case>) {
    let mut dataset = Dataset::empty();
    let mut cases = Vec::new();
    let mut add = |dataset: &mut Dataset, user: &'static str, outcome: Outcome| {
        assert!(dataset.find_user(user).is_some(), "{user} has data");
        cases.push(Case { user, outcome });
    };

    // Well-formed users, whose data must land whatever the others send.
    dataset.add_records("good-a", vec![record("a1"), record("a2"), record("a3")]).expect("records");
    add(&mut dataset, "good-a", Outcome::Lands { ids: &["a1", "a2", "a3"], rejected: &[] });
    let children = json!([
        { "contextReference": "https://contoso.sharepoint.com/doc", "contextType": "file", "displayName": "Doc" }
    ]);
    let mention = json!([{ "mentionId": 0, "mentionText": "Zoe", "mentioned": { "user": { "id": "zoe-id", "displayName": "Zoe" } } }]);
    let b1 = with(with(record("b1"), "contexts", children), "mentions", mention);
    dataset.add_records("good-b", vec![b1, record("b2")]).expect("records");
    add(&mut dataset, "good-b", Outcome::Lands { ids: &["b1", "b2"], rejected: &[] });

    // Records of the wrong shape: each is rejected alone.
    let wrong_types = vec![
        record("w1"),
        with(record("w2"), "mentions", json!([{ "mentionId": PRIVATE }])),
        with(record("w3"), "sessionId", json!(42)),
        without(record("w4"), "id"),
        without(record("w5"), "sessionId"),
        with(record("w6"), "body", json!(PRIVATE)),
    ];
    dataset.add_records("wrong-types", wrong_types).expect("records");
    add(
        &mut dataset,
        "wrong-types",
        Outcome::Lands { ids: &["w1"], rejected: &["mentions[0].mentionId", "sessionId", ".", ".", "body"] },
    );

    let not_objects = format!(r#"{{"value":[42,"{PRIVATE}",null,[1,2],true,{}]}}"#, record("n1"));
    dataset.add_raw_pages("not-objects", vec![Bytes::from(not_objects)]);
    add(&mut dataset, "not-objects", Outcome::Lands { ids: &["n1"], rejected: &[".", ".", ".", ".", "."] });

    let bad_times = page(&[
        record("t1"),
        with(record("t2"), "createdDateTime", json!("yesterday")),
        with(record("t3"), "createdDateTime", json!(1_700_000_000)),
    ]);
    dataset.add_raw_pages("bad-times", vec![Bytes::from(bad_times)]);
    add(&mut dataset, "bad-times", Outcome::Lands { ids: &["t1"], rejected: &["createdDateTime", "createdDateTime"] });

    // Lone surrogates, as Graph sends a string cut inside an emoji: the records are kept.
    let surrogates = page(&[record("s1"), record("s2"), record("s3")])
        .replacen("a prompt", r"cut \ud83d", 1)
        .replacen("a prompt", r"\udc00 alone", 1)
        .replacen("a prompt", r"pair \ud83d\ude00", 1);
    dataset.add_raw_pages("lone-surrogates", vec![Bytes::from(surrogates)]);
    add(&mut dataset, "lone-surrogates", Outcome::Lands { ids: &["s1", "s2", "s3"], rejected: &[] });

    // Nesting far past serde_json's limit of 128: ignored in an unknown field, rejected where
    // the model reads it. The simulator cannot parse the page either, so it serves it verbatim.
    let deep = format!(
        r#"{{"value":[{},{}],"@odata.extra":{}}}"#,
        record("d1").to_string().replacen('{', &format!(r#"{{"junk":{},"#, nested(100_000)), 1),
        with(record("d2"), "from", json!({ "device": "placeholder" }))
            .to_string()
            .replace(r#""placeholder""#, &nested(1_000)),
        nested(100_000),
    );
    dataset.add_raw_pages("deep-nesting", vec![Bytes::from(deep)]);
    add(&mut dataset, "deep-nesting", Outcome::Lands { ids: &["d1"], rejected: &["from.device"] });

    // A 20 MiB Adaptive Card that the body points at: the card text becomes body_text.
    let card =
        json!({ "type": "AdaptiveCard", "body": [{ "type": "TextBlock", "text": "x".repeat(HUGE) }] }).to_string();
    let huge = with(
        with(
            record("h1"),
            "body",
            json!({ "contentType": "html", "content": "<attachment id=\"card\"></attachment>" }),
        ),
        "attachments",
        json!([{ "attachmentId": "card", "contentType": "application/vnd.microsoft.card.adaptive", "content": card }]),
    );
    dataset.add_records("huge-attachment", vec![huge]).expect("records");
    add(&mut dataset, "huge-attachment", Outcome::Lands { ids: &["h1"], rejected: &[] });

    // Damage in transit: retried, then the user fails.
    let retried: &[&str] = &["not valid JSON", "page 0", "attempt(s)"];
    dataset.add_raw_pages("not-json", vec![Bytes::from_static(b"<html><body>Bad gateway</body></html>")]);
    add(&mut dataset, "not-json", Outcome::Fails { error: retried });
    let full = page(&[record("x1"), record("x2")]);
    dataset.add_raw_pages("truncated", vec![Bytes::from(full[..full.len() / 2].to_owned())]);
    add(&mut dataset, "truncated", Outcome::Fails { error: retried });
    let mut invalid_utf8 = page(&[record("x3")]).into_bytes();
    let at = invalid_utf8.windows(8).position(|w| w == b"a prompt").expect("body text");
    invalid_utf8[at] = 0xC3;
    invalid_utf8[at + 1] = 0x28;
    dataset.add_raw_pages("invalid-utf8", vec![Bytes::from(invalid_utf8)]);
    add(&mut dataset, "invalid-utf8", Outcome::Fails { error: retried });

    // Complete pages of the wrong shape: the user fails at once, naming the page and field.
    dataset.add_raw_pages("value-not-array", vec![Bytes::from(r#"{"value":{"id":"1"}}"#)]);
    add(
        &mut dataset,
        "value-not-array",
        Outcome::Fails { error: &["page 0", "field 'value'", "retrying cannot help"] },
    );
    dataset.add_raw_pages("value-is-text", vec![Bytes::from(format!(r#"{{"value":"{PRIVATE}"}}"#))]);
    add(&mut dataset, "value-is-text", Outcome::Fails { error: &["page 0", "field 'value'"] });
    dataset.add_raw_pages("second-page-bad", vec![Bytes::from(page(&[record("p1")])), Bytes::from(r#"{"value":5}"#)]);
    add(&mut dataset, "second-page-bad", Outcome::Fails { error: &["page 1", "field 'value'"] });

    // Bad links. The simulator rewrites @odata.nextLink in pages it can parse, and a lone
    // surrogate is what it cannot parse, so these pages carry one to be served verbatim.
    let with_link = |link: &str| {
        let record = record("l1").to_string().replacen("a prompt", r"\ud800", 1);
        format!(r#"{{"value":[{record}],"@odata.nextLink":{}}}"#, json!(link))
    };
    dataset.add_raw_pages("link-not-url", vec![Bytes::from(with_link("not a url"))]);
    add(
        &mut dataset,
        "link-not-url",
        Outcome::Fails { error: &["@odata.nextLink of page 0 of user link-not-url is not a URL", "'not a url'"] },
    );
    let loop_link = format!("{graph_url}/copilot/users/link-loop/interactionHistory/getAllEnterpriseInteractions");
    dataset.add_raw_pages("link-loop", vec![Bytes::from(with_link(&loop_link))]);
    add(
        &mut dataset,
        "link-loop",
        Outcome::Fails { error: &["@odata.nextLink of page 1 of user link-loop repeats", "never end"] },
    );

    (dataset, cases)
}

/// Interaction ids in the lake, by user.
fn ids_by_user(lake: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in common::read_table(lake, "interactions") {
        let user = row["user_id"].as_str().expect("user_id").to_owned();
        ids.entry(user).or_default().insert(row["interaction_id"].as_str().expect("id").to_owned());
    }
    ids
}

fn rejected_files(lake: &Path) -> Vec<Value> {
    let dir = lake.join("_copilot_lake/rejected");
    let mut entries = Vec::new();
    for file in std::fs::read_dir(&dir).expect("rejected folder") {
        let bytes = std::fs::read(file.expect("entry").path()).expect("rejected file");
        let list: Vec<Value> = serde_json::from_slice(&bytes).expect("the rejected file is JSON");
        entries.extend(list);
    }
    entries
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_has_defined_outcomes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("loopback port");
    let graph_url = format!("http://{}/v1.0", listener.local_addr().expect("addr"));
    let (dataset, cases) = dataset(&graph_url);
    let options = ServerOptions { client_secret: Some(common::SECRET.into()), ..ServerOptions::default() };
    let simulator = server::start(Arc::new(dataset), options, listener).await.expect("simulator starts");

    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let summary_path = dir.path().join("summary.json");
    let mut args = vec![
        "--since".to_owned(),
        "2026-11-01".into(),
        "--until".into(),
        "2026-12-01".into(),
        "--summary".into(),
        summary_path.display().to_string(),
        "--max-retries".into(),
        "2".into(),
    ];
    for case in &cases {
        args.extend(["--user".to_owned(), case.user.to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = common::sync(&simulator, &lake, &args).await;
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(3), "some users fail:\n{stderr}");
    assert!(!stderr.contains(PRIVATE), "a log line quotes a record value:\n{stderr}");

    let summary: Value = serde_json::from_slice(&std::fs::read(&summary_path).expect("summary")).expect("JSON");
    let failed: BTreeMap<&str, &str> = summary["failed_users"]
        .as_array()
        .expect("failed_users")
        .iter()
        .map(|user| (user["user_id"].as_str().expect("user_id"), user["error"].as_str().expect("error")))
        .collect();
    assert!(!summary.to_string().contains(PRIVATE), "the summary quotes a record value");

    let rejected = rejected_files(&lake);
    let mut fields_by_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for entry in &rejected {
        let user = entry["user_id"].as_str().expect("user_id");
        // A path into deep nesting repeats `[0]` up to the recursion limit: compare its start.
        let field = entry["field"].as_str().expect("field");
        fields_by_user.entry(user).or_default().push(field.split("[0][0]").next().unwrap_or(field));
        let reason = entry["reason"].as_str().expect("reason");
        assert!(!reason.contains(PRIVATE), "{user}: the reason quotes a record value: {reason}");
        let text = entry["record"].as_str().expect("the record's JSON text");
        serde_json::from_str::<serde::de::IgnoredAny>(text).expect("the stored record is valid JSON");
    }
    assert_eq!(summary["rejected_records"], rejected.len());

    let landed = ids_by_user(&lake);
    for case in &cases {
        match &case.outcome {
            Outcome::Lands { ids, rejected } => {
                assert!(!failed.contains_key(case.user), "{}: {:?}", case.user, failed.get(case.user));
                let expected: BTreeSet<String> = ids.iter().map(|id| id.to_string()).collect();
                assert_eq!(landed.get(case.user), Some(&expected), "{}: landed ids", case.user);
                let mut fields = fields_by_user.get(case.user).cloned().unwrap_or_default();
                fields.sort_unstable();
                let mut expected_fields = rejected.to_vec();
                expected_fields.sort_unstable();
                assert_eq!(fields, expected_fields, "{}: rejected fields", case.user);
            }
            Outcome::Fails { error } => {
                let message = failed.get(case.user).unwrap_or_else(|| panic!("{} must fail", case.user));
                let names_user = message.contains(&format!("/users/{}/", case.user))
                    || message.contains(&format!("of user {} ", case.user));
                assert!(names_user, "{}: the error does not name the user: {message}", case.user);
                for part in error.iter() {
                    assert!(message.contains(part), "{}: '{part}' missing from: {message}", case.user);
                }
                assert!(!landed.contains_key(case.user), "{}: a failed user lands nothing", case.user);
                assert!(!fields_by_user.contains_key(case.user), "{}: a failed user records no rejections", case.user);
            }
        }
    }
    assert_eq!(failed.len(), cases.iter().filter(|case| matches!(case.outcome, Outcome::Fails { .. })).count());

    // Three users were retried twice each.
    assert!(summary["retries"].as_u64().expect("retries") >= 6, "{summary}");
    simulator.shutdown().await;
    check_row_contents(&lake);
}

/// Checks the values that the repairs and the huge field produced, and the child rows of the
/// well-formed users.
fn check_row_contents(lake: &Path) {
    let interactions = common::read_table(lake, "interactions");
    let body = |id: &str| {
        let row = interactions.iter().find(|row| row["interaction_id"] == id).unwrap_or_else(|| panic!("{id}"));
        (row["body_content"].clone(), row["body_text"].clone())
    };
    assert_eq!(body("s1").0, "cut \u{fffd}");
    assert_eq!(body("s2").0, "\u{fffd} alone");
    assert_eq!(body("s3").0, "pair \u{1f600}");
    let (_, huge_text) = body("h1");
    assert_eq!(huge_text.as_str().map(str::len), Some(HUGE), "the card text of the huge attachment");

    let attachments = common::read_table(lake, "attachments");
    let card = attachments.iter().find(|row| row["interaction_id"] == "h1").expect("h1 attachment");
    assert!(card["content"].as_str().expect("content").len() > HUGE);

    let contexts = common::read_table(lake, "contexts");
    assert_eq!(contexts.len(), 1);
    assert_eq!(contexts[0]["user_id"], "good-b");
    let mentions = common::read_table(lake, "mentions");
    assert_eq!(mentions.len(), 1);
    assert_eq!(mentions[0]["mentioned_user_id"], "zoe-id");
}

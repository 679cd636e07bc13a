//! The answers to the example queries, computed from the simulator's records without the
//! connector: what a correct lake must give DuckDB, Polars and Spark.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use serde_json::{Value, json};

const APP_CLASS_PREFIX: &str = "IPM.SkypeTeams.Message.Copilot.";
const WARM_UP_BODY: &str = r#"{"IsWarmupRequest":"true"}"#;

/// One record as the demo syncs it: the user whose history it came from, and the JSON.
pub struct Served {
    pub user_id: String,
    pub json: Value,
}

/// Returns every record of the demo lake: each licensed user's history in the demo's window.
pub fn demo_records() -> Vec<Served> {
    let options = GenerateOptions::default();
    let dataset = Dataset::generate(&options);
    dataset
        .licensed_users()
        .flat_map(|user| {
            dataset
                .records_in_window(&user.id, options.start, options.end)
                .into_iter()
                .map(|record| Served { user_id: user.id.clone(), json: record.json.clone() })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn text<'a>(json: &'a Value, pointer: &str) -> Option<&'a str> {
    json.pointer(pointer).and_then(Value::as_str)
}

fn created(json: &Value) -> DateTime<Utc> {
    let text = text(json, "/createdDateTime").expect("createdDateTime");
    DateTime::parse_from_rfc3339(text).expect("RFC 3339").to_utc()
}

fn date(json: &Value) -> NaiveDate {
    created(json).date_naive()
}

/// Returns the app: the appClass suffix, with the two spellings of PowerPoint merged.
fn app(json: &Value) -> Option<String> {
    let suffix = text(json, "/appClass")?.strip_prefix(APP_CLASS_PREFIX)?;
    Some(if suffix.eq_ignore_ascii_case("powerpoint") { "PowerPoint".into() } else { suffix.into() })
}

fn is_own_prompt(record: &Served) -> bool {
    text(&record.json, "/interactionType") == Some("userPrompt")
        && text(&record.json, "/from/user/id") == Some(record.user_id.as_str())
}

/// Returns the readable text of the simulator's bodies: an html body that is only an attachment marker
/// takes its card's text blocks, html prompts lose their `<at>` mention tags, and plain text
/// ends before its attachment marker.
pub fn body_text(json: &Value) -> Option<String> {
    let content = text(json, "/body/content")?;
    let text = if text(json, "/body/contentType") == Some("html") {
        match content.strip_prefix("<attachment id=\"").and_then(|rest| rest.strip_suffix("\"></attachment>")) {
            Some(attachment_id) => card_text(json, attachment_id),
            None => without_mention_tags(content),
        }
    } else {
        let end = ["<attachment", "&lt;attachment"].iter().filter_map(|marker| content.find(marker)).min();
        content[..end.unwrap_or(content.len())].to_owned()
    };
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn card_text(json: &Value, attachment_id: &str) -> String {
    let attachments = json["attachments"].as_array().expect("attachments");
    let attachment = attachments.iter().find(|a| a["attachmentId"] == attachment_id).expect("the marker's attachment");
    let card: Value = serde_json::from_str(attachment["content"].as_str().expect("card")).expect("card JSON");
    let mut lines = Vec::new();
    for element in card["body"].as_array().expect("card body") {
        match element["type"].as_str() {
            Some("TextBlock") => lines.push(element["text"].as_str().expect("text").to_owned()),
            Some("RichTextBlock") => {
                let runs = element["inlines"].as_array().expect("inlines");
                lines.push(runs.iter().map(|run| run["text"].as_str().expect("run text")).collect());
            }
            other => panic!("the simulator's cards hold no {other:?}"),
        }
    }
    lines.join("\n")
}

fn without_mention_tags(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<at id=") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('>').expect("closed <at> tag");
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("</at>", "")
}

/// The users who prompted in a group of records, and their prompts.
#[derive(Default)]
struct Activity<'a> {
    users: BTreeSet<&'a str>,
    prompts: u64,
}

impl<'a> Activity<'a> {
    fn add(&mut self, record: &'a Served) {
        self.users.insert(&record.user_id);
        self.prompts += 1;
    }
}

pub fn adoption_by_app_per_day(records: &[Served]) -> Vec<Value> {
    let mut groups: BTreeMap<(NaiveDate, Option<String>), Activity> = BTreeMap::new();
    for record in records.iter().filter(|record| is_own_prompt(record)) {
        let key = (date(&record.json), app(&record.json));
        groups.entry(key).or_default().add(record);
    }
    groups
        .into_iter()
        .map(|((date, app), group)| {
            json!({ "date": date.to_string(), "app": app, "users": group.users.len(), "prompts": group.prompts })
        })
        .collect()
}

pub fn active_users_per_week(records: &[Served]) -> Vec<Value> {
    let mut weeks: BTreeMap<NaiveDate, Activity> = BTreeMap::new();
    for record in records.iter().filter(|record| is_own_prompt(record)) {
        let day = date(&record.json);
        let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        weeks.entry(monday).or_default().add(record);
    }
    weeks
        .into_iter()
        .map(|(week, group)| {
            json!({ "week": week.to_string(), "active_users": group.users.len(), "prompts": group.prompts })
        })
        .collect()
}

/// One user's own prompts, the sessions they are in, and the days they were sent on.
#[derive(Default)]
struct UserPrompts<'a> {
    prompts: u64,
    sessions: BTreeSet<&'a str>,
    days: BTreeSet<NaiveDate>,
}

pub fn prompts_per_user(records: &[Served]) -> Vec<Value> {
    let mut users: BTreeMap<&str, UserPrompts> = BTreeMap::new();
    for record in records.iter().filter(|record| is_own_prompt(record)) {
        let user = users.entry(&record.user_id).or_default();
        user.prompts += 1;
        user.sessions.insert(text(&record.json, "/sessionId").expect("sessionId"));
        user.days.insert(date(&record.json));
    }
    users
        .into_iter()
        .map(|(user_id, UserPrompts { prompts, sessions, days })| {
            json!({
                "user_id": user_id,
                "prompts": prompts,
                "sessions": sessions.len(),
                "first_day": days.first().map(NaiveDate::to_string),
                "last_day": days.last().map(NaiveDate::to_string),
            })
        })
        .collect()
}

/// A response and the prompt before it in the same session of one user's history.
pub struct Pair<'a> {
    pub user_id: &'a str,
    pub prompt: &'a Value,
    pub response: &'a Value,
}

/// Pairs every response, except warm-ups, with the latest prompt before it in its session.
pub fn pairs(records: &[Served]) -> Vec<Pair<'_>> {
    let mut sessions: BTreeMap<(&str, &str), Vec<&Value>> = BTreeMap::new();
    for record in records {
        let session = text(&record.json, "/sessionId").expect("sessionId");
        sessions.entry((&record.user_id, session)).or_default().push(&record.json);
    }
    let mut pairs = Vec::new();
    for ((user_id, _), mut history) in sessions {
        history.sort_by_key(|json| (created(json), text(json, "/id").unwrap_or_default().to_owned()));
        let mut prompt = None;
        for json in history {
            match text(json, "/interactionType") {
                Some("userPrompt") => prompt = Some(json),
                Some("aiResponse") if text(json, "/body/content") != Some(WARM_UP_BODY) => {
                    if let Some(prompt) = prompt {
                        pairs.push(Pair { user_id, prompt, response: json });
                    }
                }
                _ => {}
            }
        }
    }
    pairs
}

pub fn prompt_response_pairs(records: &[Served]) -> Vec<Value> {
    pairs(records)
        .iter()
        .map(|pair| {
            json!({
                "user_id": pair.user_id,
                "session_id": pair.response["sessionId"],
                "app": app(pair.response),
                "prompt_id": pair.prompt["id"],
                "response_id": pair.response["id"],
                "prompt_text": body_text(pair.prompt),
                "response_text": body_text(pair.response),
            })
        })
        .collect()
}

pub fn meeting_responses(records: &[Served]) -> Vec<Value> {
    let mut rows = Vec::new();
    for pair in pairs(records) {
        let contexts = pair.prompt["contexts"].as_array().cloned().unwrap_or_default();
        for context in contexts.iter().filter(|context| context["contextType"] == "TeamsMeeting") {
            rows.push(json!({
                "user_id": pair.user_id,
                "response_id": pair.response["id"],
                "meeting": context["contextReference"],
                "prompt_text": body_text(pair.prompt),
                "response_text": body_text(pair.response),
            }));
        }
    }
    rows
}

/// Every example query's expected rows, by query name. Each row contains the columns the tests
/// compare; the queries may return more.
pub fn example_results(records: &[Served]) -> BTreeMap<&'static str, Vec<Value>> {
    BTreeMap::from([
        ("adoption_by_app_per_day", adoption_by_app_per_day(records)),
        ("active_users_per_week", active_users_per_week(records)),
        ("prompts_per_user", prompts_per_user(records)),
        ("prompt_response_pairs", prompt_response_pairs(records)),
        ("meeting_responses", meeting_responses(records)),
    ])
}

//! `body_text` and `app` of every public Graph sample, against values written by hand from
//! reading the samples: the card text of BizChat answers, and prompts and meeting answers
//! without their attachment markers.

use std::path::Path;

use arrow::array::{Array, AsArray};
use copilot_lake::flatten::{Flattener, Table};
use copilot_lake::graph::model::parse_interaction;
use serde_json::Value;
use serde_json::value::RawValue;

const MEETING_ANSWER: &str = "I use the transcript to generate insights, and need to hear more discussion before I can get to work. Please try again in a few minutes.";

const CLARIFICATION: &str = "It looks like you were about to ask for help preparing for something. Could you please provide more details or specify which meeting or task you need help with? This will help me provide you with the most relevant information and materials.";

const MEETING_URL: &str = "https://teams.microsoft.com/l/meeting/details?eventId=AAMkADcyZTMzNWZhLWE1YjAtNDc3Mi04MzBlLTc2NzEzOTE0MmU1ZQBGAAAAAAC5e4DRHIMCQJ-tS6nB82CZBwCMIOyf3WTwTIsBMwZamp77AAAAAAENAACMIOyf3WTwTIsBMwZamp77";
const HANDBOOK_URL: &str = "https://m365cpi17278319-my.sharepoint.com/personal/corat_m365cpi17278319_onmicrosoft_com/Documents/Microsoft%20Copilot%20Chat%20Files/OnCall%20DRI%20Handbook-v3.pdf?web=1";

/// The answer of the v1 BizChat sample: its card's first TextBlock. The second one, with id
/// `MessageTextField`, repeats the answer with `[^1^]` citations and is not part of the text.
fn radar_answer() -> String {
    let meeting_2 = format!("{MEETING_URL}AABCrxI6AAA%3d");
    let new_meeting = format!("{MEETING_URL}AABCrxI5AAA%3d");
    let test_meeting = format!("{MEETING_URL}AABAvsP6AAA%3d");
    [
        "It looks like there were no important emails from last week. However, I found some relevant meetings and files that might be of interest to you.".to_owned(),
        String::new(),
        "From your meetings last week:".to_owned(),
        format!("- **[test meeting2 - export api]({meeting_2})**: You discussed the need to send a reminder about an upcoming event, possibly Ignite, scheduled for next week. You emphasized the importance of the event and the reminder[1]({meeting_2})."),
        format!("- **[new meeting to test copilot interaction in meetings]({new_meeting})**: This meeting was held last Friday from 12:30 PM to 1 PM[2]({new_meeting})."),
        format!("- **[test meeting]({test_meeting})**: You explained the significance of the Nobel Prize in Economics and announced the 2024 Nobel Prize winners, Darren Simon Johnson and James A. Robinson[3]({test_meeting})."),
        String::new(),
        format!("Additionally, there is a file titled **[OnCall DRI Handbook-v3]({HANDBOOK_URL})** that you last modified on February 4th, 2021. This document provides guidelines on handling incidents and includes important terminology and procedures[4]({HANDBOOK_URL})."),
        String::new(),
        "Is there anything specific you would like to know more about?".to_owned(),
    ]
    .join("\n")
}

/// (fixture, record id, app, body_text)
fn expected() -> Vec<(&'static str, &'static str, &'static str, String)> {
    vec![
        ("v1-example1-teams-meeting-aiResponse.json", "1731701801008", "Teams", MEETING_ANSWER.into()),
        ("v1-example2-bizchat-pair-links-adaptivecard.json", "1732148357313", "BizChat", radar_answer()),
        (
            "v1-example2-bizchat-pair-links-adaptivecard.json",
            "1732148356886",
            "BizChat",
            "What should be on my radar from emails last week?".into(),
        ),
        ("beta-example2-bizchat-aiResponse-clarification.json", "1731701571329", "BizChat", CLARIFICATION.into()),
        (
            "m365copilot-example3-createdDateTime-bizchat-userPrompt.json",
            "1764008994427",
            "BizChat",
            "What are the key action items from my recent meetings?".into(),
        ),
        (
            "teams-export-meeting-pair-missing-contexts.json",
            "1746757256660",
            "Teams",
            "what was this meeting about?".into(),
        ),
        (
            "teams-export-meeting-pair-missing-contexts.json",
            "1746757257162",
            "Teams",
            "I need to hear more discussion before I can get to work. Please try again in a few minutes.".into(),
        ),
        ("changenotification-decrypted-resource.json", "1731701801008", "Teams", MEETING_ANSWER.into()),
    ]
}

/// The records of a fixture file: a page, a bare array, or one record.
fn records_of(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    match serde_json::from_str::<Value>(&text).expect("fixture JSON") {
        Value::Array(records) => records,
        Value::Object(page) if page.contains_key("value") => page["value"].as_array().expect("value").clone(),
        record => vec![record],
    }
}

/// Flattens one record and returns its `app` and `body_text` cells.
fn derived_columns(record: &Value) -> (Option<String>, Option<String>) {
    let raw = RawValue::from_string(record.to_string()).expect("JSON");
    let interaction = parse_interaction(&raw).expect("a valid record");
    let mut flattener = Flattener::default();
    flattener.push("user", &interaction);
    let batches = flattener.finish().expect("batches");
    let (_, batch) = batches.iter().find(|(table, _)| *table == Table::Interactions).expect("interactions");
    let cell = |name: &str| {
        let column = batch.column(batch.schema().index_of(name).expect("column")).as_string::<i32>().clone();
        (!column.is_null(0)).then(|| column.value(0).to_owned())
    };
    (cell("app"), cell("body_text"))
}

#[test]
fn samples_have_hand_checked_text() {
    let cases = expected();
    for (fixture, id, app, body_text) in &cases {
        let records = records_of(fixture);
        let record =
            records.iter().find(|record| record["id"] == *id).unwrap_or_else(|| panic!("{fixture} has record {id}"));
        let (actual_app, actual_text) = derived_columns(record);
        assert_eq!(actual_app.as_deref(), Some(*app), "{fixture} {id}: app");
        assert_eq!(actual_text.as_deref(), Some(body_text.as_str()), "{fixture} {id}: body_text");
    }

    // Every interaction of every sample has a case above.
    let interactions: usize = cases
        .iter()
        .map(|case| case.0)
        .collect::<std::collections::BTreeSet<_>>()
        .iter()
        .map(|fixture| records_of(fixture).len())
        .sum();
    assert_eq!(interactions, cases.len(), "one case per sample record");
}

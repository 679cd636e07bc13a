//! Reading one user's interaction history for a time window, every page to the end.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::value::RawValue;
use url::Url;

use super::client::GraphClient;
use super::error::{BodyError, GraphError};
use super::model::{Interaction, RawPage, parse_interaction};
use super::sanitize::{redact_values, repair_lone_surrogates};

/// Graph's maximum and recommended page size for this endpoint.
pub const PAGE_SIZE: u32 = 100;

/// A half-open time window `[start, end)` of `createdDateTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What the request filters on besides the window.
#[derive(Debug, Clone, Default)]
pub struct InteractionQuery {
    pub app_classes: Vec<String>,
    /// The legacy licensing-model parameter (`A` or `B`), sent only when set.
    pub model: Option<String>,
}

/// A record that could not be read, kept for the run's rejection log.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The 0-based page of the user's window that held the record.
    pub page: u32,
    /// The JSON path of the field that failed, such as `mentions[0].mentionId`; `.` for the
    /// record itself.
    pub field: String,
    /// What was wrong, without quoting values from the record.
    pub reason: String,
    /// The record as Graph sent it, after lone surrogate escapes became U+FFFD.
    pub record: Box<RawValue>,
}

/// Everything read for one user's window.
#[derive(Debug, Default)]
pub struct UserHistory {
    pub records: Vec<Interaction>,
    pub rejections: Vec<Rejection>,
    pub pages: u32,
    /// Records dropped because their key was already read in this window: Graph's paging can
    /// repeat a record when new records shift its offsets.
    pub duplicates: u64,
    /// Lone UTF-16 surrogate escapes replaced with U+FFFD, see [`repair_lone_surrogates`].
    pub repaired_surrogates: u64,
}

/// One page's records, each parsed or rejected, and the link to the next page.
#[derive(Debug)]
pub struct ParsedPage {
    pub records: Vec<Result<Interaction, Rejection>>,
    pub next_link: Option<String>,
    /// Lone surrogate escapes replaced with U+FFFD before parsing.
    pub repaired_surrogates: usize,
}

/// The longest part of a value from a response that an error message repeats.
const MAX_QUOTED: usize = 200;

/// Builds the first request for a user's window. The filter's date bounds are strict, so
/// `[start, end)` is sent as `gt start - 1µs and lt end`; Graph also needs both bounds.
pub fn first_page_url(
    graph_url: &Url,
    user_id: &str,
    window: Window,
    query: &InteractionQuery,
) -> Result<Url, GraphError> {
    let mut url = graph_url.clone();
    url.path_segments_mut()
        .map_err(|()| GraphError::InvalidUrl {
            url: graph_url.to_string(),
            reason: "the Graph URL cannot have a path".into(),
        })?
        .pop_if_empty()
        .extend(["copilot", "users", user_id, "interactionHistory", "getAllEnterpriseInteractions"]);

    let mut filter = format!(
        "createdDateTime gt {} and createdDateTime lt {}",
        odata_time(window.start - ChronoDuration::microseconds(1)),
        odata_time(window.end)
    );
    if !query.app_classes.is_empty() {
        let clauses: Vec<String> =
            query.app_classes.iter().map(|app| format!("appClass eq '{}'", app.replace('\'', "''"))).collect();
        filter.push_str(&format!(" and ({})", clauses.join(" or ")));
    }

    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("$top", &PAGE_SIZE.to_string());
        pairs.append_pair("$filter", &filter);
        if let Some(model) = &query.model {
            pairs.append_pair("model", model);
        }
    }
    Ok(url)
}

fn odata_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads every page of a user's window, following each `@odata.nextLink` as returned.
pub async fn read_history(
    client: &GraphClient,
    user_id: &str,
    window: Window,
    query: &InteractionQuery,
) -> Result<UserHistory, GraphError> {
    let mut history = UserHistory::default();
    let mut seen = HashSet::new();
    let mut followed = HashSet::new();
    let mut next = Some(first_page_url(client.graph_url(), user_id, window, query)?);

    while let Some(url) = next.take() {
        let page_number = history.pages;
        let page = client.get(&url, |body| parse_page(body, page_number)).await?;
        history.pages += 1;
        if page.repaired_surrogates > 0 {
            tracing::warn!(
                page = page_number,
                replaced = page.repaired_surrogates,
                "replaced lone UTF-16 surrogate escapes with U+FFFD; the records are kept"
            );
            history.repaired_surrogates += page.repaired_surrogates as u64;
        }

        for record in page.records {
            match record {
                Ok(record) => {
                    if seen.insert(record_key(&record)) {
                        history.records.push(record);
                    } else {
                        history.duplicates += 1;
                    }
                }
                Err(rejection) => history.rejections.push(rejection),
            }
        }
        if let Some(link) = page.next_link {
            next = Some(next_page_url(client, &link, user_id, page_number, &mut followed)?);
        }
    }
    Ok(history)
}

/// Hashes a record's key (`sessionId`, `id`) into two 64-bit hashes with different seeds. A window can
/// hold many thousands of records, and a set of the key strings would take more memory than
/// the ids in the records themselves.
fn record_key(record: &Interaction) -> (u64, u64) {
    let hash_with = |seed: u8| {
        let mut hasher = DefaultHasher::new();
        (seed, &record.session_id, &record.id).hash(&mut hasher);
        hasher.finish()
    };
    (hash_with(1), hash_with(2))
}

/// Checks the `@odata.nextLink` of page `page` and returns it as the next request. A link that
/// was already followed would page forever, so it ends the user's window with an error.
fn next_page_url(
    client: &GraphClient,
    link: &str,
    user_id: &str,
    page: u32,
    followed: &mut HashSet<String>,
) -> Result<Url, GraphError> {
    let url = client.check_link(link).map_err(|error| match error {
        GraphError::InvalidUrl { url, reason } => GraphError::InvalidUrl {
            url: shorten(&url),
            reason: format!("the @odata.nextLink of page {page} of user {user_id} is not a URL ({reason})"),
        },
        GraphError::ForeignLink { link, allowed } => GraphError::ForeignLink { link: shorten(&link), allowed },
        other => other,
    })?;
    if !followed.insert(link.to_owned()) {
        return Err(GraphError::InvalidUrl {
            url: shorten(link),
            reason: format!(
                "the @odata.nextLink of page {page} of user {user_id} repeats an earlier page's link, so paging would never end"
            ),
        });
    }
    Ok(url)
}

/// Cuts `text` to [`MAX_QUOTED`] characters for an error message: a link can be megabytes of junk.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Parses one page of a user's history: every record parsed or rejected alone, and the next
/// link. A body that is not JSON is taken as damage in transit (retryable); valid JSON of the
/// wrong shape fails the same way on every attempt (not retryable). Messages name the page and
/// the field, but no value: a value can be prompt text.
pub fn parse_page(body: &[u8], page: u32) -> Result<ParsedPage, BodyError> {
    let (body, repaired_surrogates) = repair_lone_surrogates(body);
    // As for records, the path is tracked only when the page fails, to name the field.
    let raw: RawPage = match serde_json::from_slice(&body) {
        Ok(raw) => raw,
        Err(_) => {
            let mut deserializer = serde_json::Deserializer::from_slice(&body);
            serde_path_to_error::deserialize(&mut deserializer).map_err(|error| page_error(page, &error))?
        }
    };
    let records = raw
        .value
        .into_iter()
        .map(|value| {
            parse_interaction(value).map_err(|error| Rejection {
                page,
                field: error.path.clone(),
                reason: error.to_string(),
                record: value.to_owned(),
            })
        })
        .collect();
    Ok(ParsedPage { records, next_link: raw.next_link, repaired_surrogates })
}

fn page_error(page: u32, error: &serde_path_to_error::Error<serde_json::Error>) -> BodyError {
    let inner = error.inner();
    let detail = redact_values(&inner.to_string());
    match inner.classify() {
        serde_json::error::Category::Data => BodyError {
            message: format!("page {page} is not a Graph collection page: field '{}': {detail}", error.path()),
            retryable: false,
        },
        _ => BodyError {
            message: format!("page {page} is not valid JSON (truncated or damaged in transit?): {detail}"),
            retryable: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn window() -> Window {
        Window {
            start: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().expect("time"),
            end: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("time"),
        }
    }

    fn filter_of(url: &Url) -> String {
        url.query_pairs().find(|(k, _)| k == "$filter").map(|(_, v)| v.into_owned()).expect("filter")
    }

    #[test]
    fn first_url_has_both_strict_bounds() {
        let graph = Url::parse("https://graph.microsoft.com/v1.0").expect("url");
        let url = first_page_url(&graph, "u@contoso.com", window(), &InteractionQuery::default()).expect("url");
        assert_eq!(url.path(), "/v1.0/copilot/users/u@contoso.com/interactionHistory/getAllEnterpriseInteractions");
        assert_eq!(
            filter_of(&url),
            "createdDateTime gt 2026-10-31T23:59:59.999999Z and createdDateTime lt 2026-12-01T00:00:00.000000Z"
        );
        assert!(url.query_pairs().any(|(k, v)| k == "$top" && v == "100"));
        assert!(!url.query_pairs().any(|(k, _)| k == "model"));
    }

    #[test]
    fn app_classes_are_or_joined() {
        let graph = Url::parse("https://graph.microsoft.com/v1.0/").expect("url");
        let query = InteractionQuery {
            app_classes: vec!["IPM.SkypeTeams.Message.Copilot.Word".into(), "O'Brien".into()],
            model: Some("A".into()),
        };
        let url = first_page_url(&graph, "u1", window(), &query).expect("url");
        assert!(
            filter_of(&url)
                .ends_with(" and (appClass eq 'IPM.SkypeTeams.Message.Copilot.Word' or appClass eq 'O''Brien')")
        );
        assert!(url.query_pairs().any(|(k, v)| k == "model" && v == "A"));
    }

    #[test]
    fn bad_record_does_not_sink_the_page() {
        let body = br#"{"value":[{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z"},{"id":2}]}"#;
        let page = parse_page(body, 0).expect("page");
        assert_eq!(page.records.len(), 2);
        assert!(page.records[0].is_ok());
        let rejection = page.records[1].as_ref().expect_err("second record rejected");
        assert!(rejection.reason.contains("'id'"), "{}", rejection.reason);
    }

    #[test]
    fn truncated_page_is_retryable() {
        let error = parse_page(b"{\"value\":[{\"id\"", 3).expect_err("truncated");
        assert!(error.retryable);
        assert!(error.message.starts_with("page 3 is not valid JSON"), "{}", error.message);
    }

    #[test]
    fn wrong_page_shape_names_the_field() {
        for (body, field) in [
            (r#"{"value":{"id":"1"}}"#, "'value'"),
            (r#"{"value":"a private prompt"}"#, "'value'"),
            (r#"{"value":[],"@odata.nextLink":7}"#, "'@odata.nextLink'"),
            (r#"{"error":"none"}"#, "'.'"),
            (r#"[1,2]"#, "'[0]'"),
        ] {
            let error = parse_page(body.as_bytes(), 1).expect_err(body);
            assert!(!error.retryable, "{body}");
            assert!(error.message.contains(&format!("field {field}")), "{body}: {}", error.message);
            assert!(!error.message.contains("private"), "{}", error.message);
        }
    }

    #[test]
    fn lone_surrogate_keeps_the_page() {
        let body = br#"{"value":[{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z","body":{"content":"cut \ud83d"}}]}"#;
        let page = parse_page(body, 0).expect("page");
        assert_eq!(page.repaired_surrogates, 1);
        let record = page.records[0].as_ref().expect("record kept");
        assert_eq!(record.body.as_ref().and_then(|b| b.content.as_deref()), Some("cut \u{fffd}"));
    }

    #[test]
    fn rejected_record_keeps_its_json() {
        let body = br#"{"value":[42,{"id":"1","sessionId":7,"createdDateTime":"2025-01-01T00:00:00Z"}]}"#;
        let page = parse_page(body, 2).expect("page");
        let not_object = page.records[0].as_ref().expect_err("number");
        assert_eq!((not_object.page, not_object.field.as_str(), not_object.record.get()), (2, ".", "42"));
        let wrong_type = page.records[1].as_ref().expect_err("number sessionId");
        assert_eq!(wrong_type.field, "sessionId");
        let back: serde_json::Value = serde_json::from_str(wrong_type.record.get()).expect("valid JSON");
        assert_eq!(back["sessionId"], 7);
    }

    #[test]
    fn page_may_have_no_records() {
        let page = parse_page(br#"{"value":[]}"#, 0).expect("page");
        assert!(page.records.is_empty());
        assert!(page.next_link.is_none());
    }
}

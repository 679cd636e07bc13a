//! Reading one user's interaction history for a time window, every page to the end.

use std::collections::HashSet;

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use url::Url;

use super::client::GraphClient;
use super::error::GraphError;
use super::model::{Interaction, RawPage, parse_interaction};

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
    pub page: u32,
    pub reason: String,
    pub raw: String,
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
}

#[derive(Debug)]
struct ParsedPage {
    records: Vec<Result<Interaction, Rejection>>,
    next_link: Option<String>,
}

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
        let clauses: Vec<String> = query
            .app_classes
            .iter()
            .map(|app| format!("appClass eq '{}'", app.replace('\'', "''")))
            .collect();
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
    let mut next = Some(first_page_url(client.graph_url(), user_id, window, query)?);

    while let Some(url) = next.take() {
        let page_number = history.pages;
        let page = client.get(&url, |body| parse_page(body, page_number)).await?;
        history.pages += 1;

        for record in page.records {
            match record {
                Ok(record) => {
                    if seen.insert((record.session_id.clone(), record.id.clone())) {
                        history.records.push(record);
                    } else {
                        history.duplicates += 1;
                    }
                }
                Err(rejection) => history.rejections.push(rejection),
            }
        }
        if let Some(link) = page.next_link {
            next = Some(client.check_link(&link)?);
        }
    }
    Ok(history)
}

fn parse_page(body: &Bytes, page: u32) -> Result<ParsedPage, String> {
    let raw: RawPage = serde_json::from_slice(body)
        .map_err(|error| format!("page {page} is not a Graph collection page: {error}"))?;
    let records = raw
        .value
        .into_iter()
        .map(|value| {
            parse_interaction(value).map_err(|error| Rejection {
                page,
                reason: error.to_string(),
                raw: value.get().to_owned(),
            })
        })
        .collect();
    Ok(ParsedPage { records, next_link: raw.next_link })
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
        let url = first_page_url(&graph, "u@contoso.com", window(), &InteractionQuery::default())
            .expect("url");
        assert_eq!(
            url.path(),
            "/v1.0/copilot/users/u@contoso.com/interactionHistory/getAllEnterpriseInteractions"
        );
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
        assert!(filter_of(&url).ends_with(
            " and (appClass eq 'IPM.SkypeTeams.Message.Copilot.Word' or appClass eq 'O''Brien')"
        ));
        assert!(url.query_pairs().any(|(k, v)| k == "model" && v == "A"));
    }

    #[test]
    fn bad_record_does_not_sink_the_page() {
        let body = Bytes::from_static(
            br#"{"value":[{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z"},{"id":2}]}"#,
        );
        let page = parse_page(&body, 0).expect("page");
        assert_eq!(page.records.len(), 2);
        assert!(page.records[0].is_ok());
        let rejection = page.records[1].as_ref().expect_err("second record rejected");
        assert!(rejection.reason.contains("'id'"), "{}", rejection.reason);
    }

    #[test]
    fn non_json_page_is_an_error() {
        let error = parse_page(&Bytes::from_static(b"{\"value\":[{\"id\""), 3).expect_err("truncated");
        assert!(error.starts_with("page 3 is not a Graph collection page"), "{error}");
    }
}

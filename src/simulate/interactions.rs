//! `GET /{version}/copilot/users/{id}/interactionHistory/getAllEnterpriseInteractions`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::dataset::SimRecord;
use super::errors::{GraphError, RequestIds};
use super::query::{InteractionFilter, QueryOptions, SkipToken, next_link, parse_top};
use super::server::{AppState, check_version};

const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 100;

/// The content type of Graph's JSON responses.
const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// The query parameters a next link carries besides `$skiptoken`.
const CARRIED: [&str; 3] = ["$top", "$filter", "model"];

pub(super) async fn get_all_enterprise_interactions(
    State(state): State<Arc<AppState>>,
    Path((version, user)): Path<(String, String)>,
    Extension(ids): Extension<RequestIds>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let request = InteractionsRequest { state: &state, version: &version, headers: &headers, uri: &uri };
    request.respond(&user, raw.as_deref()).unwrap_or_else(|error| {
        tracing::debug!(%user, status = error.status.as_u16(), code = error.code, request_id = %ids.request_id, "interaction request failed");
        error.render(&ids)
    })
}

struct InteractionsRequest<'a> {
    state: &'a AppState,
    version: &'a str,
    headers: &'a HeaderMap,
    uri: &'a Uri,
}

impl InteractionsRequest<'_> {
    /// Checks run in this order: route, token, query syntax, user, license, the filter's bounds,
    /// then paging. The single-bound 500 comes after the user checks because Graph reports it as
    /// a failure to execute the request.
    /// NOTE: Graph does not document its order among these errors, so this order is a guess.
    fn respond(&self, user_segment: &str, raw_query: Option<&str>) -> Result<Response, GraphError> {
        check_version(self.version)?;
        self.state.tokens.authorize(self.headers)?;
        let options = QueryOptions::parse(raw_query)?;
        options.reject_unsupported(&["$top", "$filter", "$skiptoken"])?;
        check_model(options.get("model"))?;

        let dataset = &self.state.dataset;
        let user = dataset.find_user(user_segment).ok_or_else(|| GraphError::user_not_found(user_segment))?;
        if !user.licensed {
            return Err(GraphError::unlicensed());
        }
        if let Some(pages) = dataset.raw_pages.get(&user.id) {
            return self.raw_page(pages, &options);
        }

        let top = parse_top(options.get("$top"), DEFAULT_TOP, MAX_TOP)?;
        let filter = match options.get("$filter") {
            Some(text) => InteractionFilter::parse(text)?,
            None => InteractionFilter::default(),
        };
        filter.check_bounds()?;
        let offset = match options.get("$skiptoken").map(SkipToken::decode).transpose()? {
            None => 0,
            Some(SkipToken::Interactions(offset)) => offset,
            Some(_) => return Err(GraphError::bad_request("The $skiptoken does not belong to this collection.")),
        };

        let records = dataset.records.get(&user.id).map(Vec::as_slice).unwrap_or_default();
        let late = self.state.options.late.as_ref();
        let visible = |record: &&SimRecord| late.is_none_or(|late| late.is_visible(record));
        let matching: Vec<&SimRecord> =
            records.iter().filter(|record| filter.matches(record)).filter(visible).collect();
        let page: Vec<&Value> = matching.iter().skip(offset).take(top).map(|record| &record.json).collect();
        let next = (offset + top < matching.len()).then(|| {
            let next_offset = offset + top - self.state.faults.page_shift(self.uri, top);
            self.link(&options, SkipToken::Interactions(next_offset))
        });
        let body = InteractionPage { context: self.context_url(), count: page.len(), next_link: next, value: page };
        Ok(odata_response(serde_json::to_vec(&body).map_err(internal_error)?))
    }

    /// Serves raw page `i` of a user: page 0 without `$skiptoken`, page `i` for the token of
    /// `RawPage=<i>`. A page that is a JSON object gets an `@odata.nextLink` to the next page, or
    /// loses it on the last page. Other bytes are served as they are.
    fn raw_page(&self, pages: &[Bytes], options: &QueryOptions) -> Result<Response, GraphError> {
        let index = match options.get("$skiptoken").map(SkipToken::decode).transpose()? {
            None => 0,
            Some(SkipToken::RawPage(index)) if index < pages.len() => index,
            Some(_) => return Err(GraphError::bad_request("The $skiptoken does not point at a page of this user.")),
        };
        let Some(bytes) = pages.get(index) else {
            // A user whose raw page list is empty has nothing to serve: an empty last page.
            let empty = InteractionPage { context: self.context_url(), count: 0, next_link: None, value: Vec::new() };
            return Ok(odata_response(serde_json::to_vec(&empty).map_err(internal_error)?));
        };
        let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(bytes) else {
            return Ok(odata_response(bytes.to_vec()));
        };
        object.remove("@odata.nextLink");
        if index + 1 < pages.len() {
            let link = self.link(options, SkipToken::RawPage(index + 1));
            object.insert("@odata.nextLink".into(), Value::from(link));
        }
        Ok(odata_response(serde_json::to_vec(&object).map_err(internal_error)?))
    }

    fn link(&self, options: &QueryOptions, token: SkipToken) -> String {
        let token = token.encode();
        let mut parameters = options.carried(&CARRIED);
        parameters.push(("$skiptoken", &token));
        next_link(&request_host(self.headers, self.state.addr), self.uri.path(), &parameters)
    }

    fn context_url(&self) -> String {
        let host = request_host(self.headers, self.state.addr);
        format!("http://{host}/{}/$metadata#Collection(microsoft.graph.aiInteraction)", self.version)
    }
}

/// Accepts the legacy `model` parameter with `A` or `B`, which changes nothing in the simulator.
fn check_model(model: Option<&str>) -> Result<(), GraphError> {
    match model {
        None | Some("A" | "B") => Ok(()),
        Some(other) => Err(GraphError::bad_request(format!(
            "Invalid value '{other}' for query parameter 'model'. Supported values are 'A' and 'B'."
        ))),
    }
}

/// A page of records. The field order is the key order of Graph's pages.
#[derive(Serialize)]
struct InteractionPage<'a> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.count")]
    count: usize,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    value: Vec<&'a Value>,
}

fn odata_response(body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    response
}

fn internal_error(error: serde_json::Error) -> GraphError {
    tracing::error!(%error, "failed to serialize a page");
    GraphError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Failed to execute request.")
}

/// Returns the `Host` header of the request, which next links must keep so that clients reach
/// the same server, or the listening address when the header is missing.
pub(super) fn request_host(headers: &HeaderMap, addr: SocketAddr) -> String {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| !host.is_empty())
        .map_or_else(|| addr.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::dataset::{Dataset, GenerateOptions, SimUser};
    use crate::simulate::server::ServerOptions;
    use crate::simulate::test_support::{Harness, graph_error};
    use chrono::{DateTime, Duration, Utc};
    use serde_json::json;

    const WORD: &str = "IPM.SkypeTeams.Message.Copilot.Word";
    const CHAT: &str = "IPM.SkypeTeams.Message.Copilot.BizChat";
    const TEAMS: &str = "IPM.SkypeTeams.Message.Copilot.Teams";

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test timestamp").to_utc()
    }

    /// Builds 25 records one hour apart from 2026-10-01T00:00:00Z, cycling through three apps,
    /// for user "alice", and an unlicensed user "bob".
    fn hourly_dataset() -> Dataset {
        let mut dataset = Dataset::empty();
        let apps = [WORD, CHAT, TEAMS];
        let records = (0..25)
            .map(|hour| {
                let created = at("2026-10-01T00:00:00Z") + Duration::hours(hour);
                json!({
                    "id": created.timestamp_millis().to_string(),
                    "sessionId": format!("19:s{hour}@thread.v2"),
                    "createdDateTime": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "appClass": apps[hour as usize % 3],
                })
            })
            .collect();
        dataset.add_records("alice", records).expect("valid records");
        dataset.users.push(SimUser {
            id: "bob".into(),
            user_principal_name: "bob@contoso.onmicrosoft.com".into(),
            display_name: "Bob".into(),
            licensed: false,
        });
        dataset
    }

    /// Returns the ids of the records of `hourly_dataset`, in creation order.
    fn hourly_ids() -> Vec<String> {
        (0..25)
            .map(|hour| (at("2026-10-01T00:00:00Z") + Duration::hours(hour)).timestamp_millis().to_string())
            .collect()
    }

    fn ids_of(records: &[Value]) -> Vec<String> {
        records.iter().map(|record| record["id"].as_str().expect("id").to_owned()).collect()
    }

    #[tokio::test]
    async fn paging_returns_each_record_once() {
        let harness = Harness::start(hourly_dataset()).await;
        let url = harness.interactions_url("alice");
        let expected = hourly_ids();
        for top in ["1", "7", "10", "25", "100"] {
            let first = harness.get_query(&url, &[("$top", top)]).await;
            let pages = harness.all_pages(first).await;
            let size: usize = top.parse().expect("number");
            assert_eq!(pages.len(), 25usize.div_ceil(size), "pages for $top={top}");
            for page in &pages {
                assert_eq!(page["@odata.count"], page["value"].as_array().expect("value").len(), "$top={top}");
            }
            assert!(pages.last().expect("a page").get("@odata.nextLink").is_none());
            let records: Vec<Value> =
                pages.iter().flat_map(|page| page["value"].as_array().cloned().unwrap_or_default()).collect();
            assert_eq!(ids_of(&records), expected, "$top={top}");
        }
    }

    #[tokio::test]
    async fn default_page_has_ten_records() {
        let harness = Harness::start(hourly_dataset()).await;
        let page: Value = harness.get(&harness.interactions_url("alice")).await.json().await.expect("JSON");
        assert_eq!(page["value"].as_array().expect("value").len(), 10);
        assert_eq!(page["@odata.count"], 10);
        let context = page["@odata.context"].as_str().expect("context");
        assert!(context.ends_with("/v1.0/$metadata#Collection(microsoft.graph.aiInteraction)"), "{context}");
    }

    #[tokio::test]
    async fn both_bounds_filter_strictly() {
        let harness = Harness::start(hourly_dataset()).await;
        let filter = "createdDateTime gt 2026-10-01T02:00:00Z and createdDateTime lt 2026-10-01T05:00:00.000Z";
        let first = harness.get_query(&harness.interactions_url("alice"), &[("$filter", filter)]).await;
        let records = harness.all_records(first).await;
        let created: Vec<&str> =
            records.iter().map(|record| record["createdDateTime"].as_str().expect("created")).collect();
        assert_eq!(created, ["2026-10-01T03:00:00.000Z", "2026-10-01T04:00:00.000Z"]);
    }

    #[tokio::test]
    async fn single_bound_returns_exact_500() {
        let harness = Harness::start(hourly_dataset()).await;
        for filter in ["createdDateTime gt 2026-10-01T02:00:00Z", "createdDateTime lt 2026-10-01T02:00:00Z"] {
            let response = harness.get_query(&harness.interactions_url("alice"), &[("$filter", filter)]).await;
            let error = graph_error(response, StatusCode::INTERNAL_SERVER_ERROR).await;
            assert_eq!(error["code"], "InternalServerError", "{filter}");
            assert_eq!(error["message"], "Failed to execute request.", "{filter}");
        }
    }

    #[tokio::test]
    async fn session_id_filter_returns_400() {
        let harness = Harness::start(hourly_dataset()).await;
        let cases = [("sessionId eq '19:s1@thread.v2'", "sessionId"), ("requestId eq 'abc'", "requestId")];
        for (filter, property) in cases {
            let response = harness.get_query(&harness.interactions_url("alice"), &[("$filter", filter)]).await;
            let error = graph_error(response, StatusCode::BAD_REQUEST).await;
            assert_eq!(error["code"], "BadRequest");
            let message =
                format!("The entity property '{property}' and operationKind 'Equal' is not allowed in $filter query.");
            assert_eq!(error["message"], message);
        }
    }

    #[tokio::test]
    async fn invalid_filter_returns_400() {
        let harness = Harness::start(hourly_dataset()).await;
        let response = harness.get_query(&harness.interactions_url("alice"), &[("$filter", "appClass eq")]).await;
        let error = graph_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["message"], "Invalid filter clause");
    }

    #[tokio::test]
    async fn unlicensed_user_returns_403() {
        let harness = Harness::start(hourly_dataset()).await;
        let response = harness
            .http
            .get(harness.interactions_url("bob"))
            .bearer_auth(&harness.token)
            .header("client-request-id", "99654d50-3ec1-42fb-b56e-310695cd0cfd")
            .send()
            .await
            .expect("GET");
        assert_eq!(response.headers()["client-request-id"], "99654d50-3ec1-42fb-b56e-310695cd0cfd");
        let error = graph_error(response, StatusCode::FORBIDDEN).await;
        assert_eq!(error["code"], "Forbidden");
        assert_eq!(error["message"], "UnknownError");
        assert_eq!(error["innerError"]["client-request-id"], "99654d50-3ec1-42fb-b56e-310695cd0cfd");
        assert_ne!(error["innerError"]["request-id"], error["innerError"]["client-request-id"]);
    }

    #[tokio::test]
    async fn unknown_user_returns_404() {
        let harness = Harness::start(hourly_dataset()).await;
        let response = harness.get(&harness.interactions_url("nobody")).await;
        let error = graph_error(response, StatusCode::NOT_FOUND).await;
        assert_eq!(error["code"], "Request_ResourceNotFound");
        assert_eq!(
            error["message"],
            "Resource 'nobody' does not exist or one of its queried reference-property objects are not present."
        );
        assert_eq!(error["innerError"]["request-id"], error["innerError"]["client-request-id"]);
    }

    #[tokio::test]
    async fn user_principal_name_is_accepted() {
        let harness = Harness::start(hourly_dataset()).await;
        let response = harness.get(&harness.interactions_url("ALICE%40contoso.onmicrosoft.com")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn app_class_or_filter() {
        let harness = Harness::start(hourly_dataset()).await;
        let filter = format!("appClass eq '{WORD}' or appClass eq '{CHAT}'");
        let first = harness.get_query(&harness.interactions_url("alice"), &[("$filter", &filter), ("$top", "4")]).await;
        let records = harness.all_records(first).await;
        assert_eq!(records.len(), 17);
        assert!(records.iter().all(|record| record["appClass"] == WORD || record["appClass"] == CHAT));

        let dated = format!(
            "createdDateTime gt 2026-10-01T00:00:00Z and createdDateTime lt 2026-10-01T06:00:00Z and ({filter})"
        );
        let first = harness.get_query(&harness.interactions_url("alice"), &[("$filter", &dated)]).await;
        let records = harness.all_records(first).await;
        let hours: Vec<&str> =
            records.iter().map(|record| &record["createdDateTime"].as_str().expect("created")[11..13]).collect();
        assert_eq!(hours, ["01", "03", "04"]);
    }

    #[tokio::test]
    async fn top_over_100_returns_400() {
        let harness = Harness::start(hourly_dataset()).await;
        let response = harness.get_query(&harness.interactions_url("alice"), &[("$top", "101")]).await;
        let error = graph_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error["code"], "BadRequest");
    }

    #[tokio::test]
    async fn model_parameter_is_checked() {
        let harness = Harness::start(hourly_dataset()).await;
        let url = harness.interactions_url("alice");
        assert_eq!(harness.get_query(&url, &[("model", "A")]).await.status(), StatusCode::OK);
        assert_eq!(harness.get_query(&url, &[("model", "C")]).await.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn next_link_carries_query() {
        let harness = Harness::start(hourly_dataset()).await;
        let filter = format!("appClass eq '{WORD}' or appClass eq '{CHAT}'");
        let url = harness.interactions_url("alice");
        let page: Value = harness
            .get_query(&url, &[("$top", "2"), ("$filter", &filter), ("model", "B")])
            .await
            .json()
            .await
            .expect("JSON");
        let link = page["@odata.nextLink"].as_str().expect("nextLink");
        let expected_start = format!("{url}?$top=2&$filter=appClass+eq+%27IPM.SkypeTeams.Message.Copilot.Word%27+or+");
        assert!(link.starts_with(&expected_start), "{link}");
        assert!(link.contains("&model=B&$skiptoken="), "{link}");
        let token = link.split("$skiptoken=").nth(1).expect("token");
        let decoded = url::form_urlencoded::parse(format!("t={token}").as_bytes()).next().expect("pair").1.into_owned();
        assert_eq!(SkipToken::decode(&decoded).expect("token"), SkipToken::Interactions(2));
    }

    #[tokio::test]
    async fn bad_skiptoken_returns_400() {
        let harness = Harness::start(hourly_dataset()).await;
        let url = harness.interactions_url("alice");
        for token in ["not-base64!", "UmF3UGFnZT0x"] {
            let response = harness.get_query(&url, &[("$skiptoken", token)]).await;
            graph_error(response, StatusCode::BAD_REQUEST).await;
        }
    }

    #[tokio::test]
    async fn missing_or_unknown_token_returns_401() {
        let harness = Harness::start(hourly_dataset()).await;
        let url = harness.interactions_url("alice");
        let response = harness.http.get(&url).send().await.expect("GET");
        assert!(response.headers().contains_key("www-authenticate"));
        let error = graph_error(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(error["code"], "InvalidAuthenticationToken");
        assert_eq!(error["message"], "Access token is empty.");

        let response = harness.http.get(&url).bearer_auth("e30.e30.c2ln").send().await.expect("GET");
        let error = graph_error(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(error["message"], "Access token has expired or is not yet valid.");
    }

    #[tokio::test]
    async fn expired_token_returns_401() {
        let options = ServerOptions { token_ttl: std::time::Duration::from_millis(300), ..ServerOptions::default() };
        let mut harness = Harness::start_with(hourly_dataset(), options).await;
        harness.token = harness.fetch_token("contoso", "app-1", "secret").await;
        let url = harness.interactions_url("alice");
        assert_eq!(harness.get(&url).await.status(), StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let error = graph_error(harness.get(&url).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(error["message"], "Access token has expired or is not yet valid.");
    }

    #[tokio::test]
    async fn records_in_window_match_server() {
        let options =
            GenerateOptions { users: 4, unlicensed_users: 1, interactions_per_user: 150, ..GenerateOptions::default() };
        let dataset = Dataset::generate(&options);
        let start = at("2026-10-20T00:00:00Z");
        let end = at("2026-11-10T00:00:00Z");
        let users: Vec<String> = dataset.licensed_users().map(|user| user.id.clone()).collect();
        let expected: Vec<Vec<Value>> = users
            .iter()
            .map(|user| {
                dataset.records_in_window(user, start, end).into_iter().map(|record| record.json.clone()).collect()
            })
            .collect();
        let harness = Harness::start(dataset).await;

        // [start, end) as a client must ask for it: strict bounds, the lower one a microsecond early.
        let filter = format!(
            "createdDateTime gt {} and createdDateTime lt {}",
            (start - Duration::microseconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        for (user, expected) in users.iter().zip(expected) {
            assert!(!expected.is_empty(), "user {user} has records in the window");
            let first =
                harness.get_query(&harness.interactions_url(user), &[("$filter", &filter), ("$top", "100")]).await;
            let served = harness.all_records(first).await;
            assert_eq!(served, expected, "user {user}");
        }
    }

    fn raw_page(records: &[&str], stale_link: bool) -> Bytes {
        let value: Vec<Value> = records.iter().map(|id| json!({ "id": id })).collect();
        let mut page = json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.aiInteraction)", "value": value });
        if stale_link {
            page["@odata.nextLink"] = Value::from("https://graph.microsoft.com/v1.0/elsewhere");
        }
        Bytes::from(page.to_string())
    }

    #[tokio::test]
    async fn raw_pages_are_served_in_order() {
        let mut dataset = Dataset::empty();
        dataset.add_raw_pages("carol", vec![raw_page(&["1", "2"], true), raw_page(&["3"], false)]);
        dataset.add_raw_pages("carol", vec![raw_page(&["4"], true)]);
        let harness = Harness::start(dataset).await;

        let filter = "createdDateTime gt 2026-10-01T00:00:00Z";
        let first = harness.get_query(&harness.interactions_url("carol"), &[("$filter", filter)]).await;
        let pages = harness.all_pages(first).await;
        assert_eq!(pages.len(), 3);
        let ids: Vec<String> = pages.iter().flat_map(|page| ids_of(page["value"].as_array().expect("value"))).collect();
        assert_eq!(ids, ["1", "2", "3", "4"]);
        let link = pages[0]["@odata.nextLink"].as_str().expect("nextLink");
        assert!(link.starts_with(&harness.interactions_url("carol")), "{link}");
        assert!(pages[2].get("@odata.nextLink").is_none(), "last page keeps no link");
    }

    #[tokio::test]
    async fn broken_raw_page_is_served_verbatim() {
        let truncated = Bytes::from_static(br#"{"value":[{"id":"1"#);
        let mut dataset = Dataset::empty();
        dataset.add_raw_pages(
            "carol",
            vec![raw_page(&["1"], false), truncated.clone(), Bytes::from_static(b"<html>oops</html>")],
        );
        let harness = Harness::start(dataset).await;

        let page: Value = harness.get(&harness.interactions_url("carol")).await.json().await.expect("JSON");
        let link = page["@odata.nextLink"].as_str().expect("nextLink");
        let response = harness.get(link).await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().expect("content type").to_owned();
        assert!(content_type.starts_with("application/json"), "{content_type}");
        assert_eq!(response.bytes().await.expect("body"), truncated);

        let third = SkipToken::RawPage(2).encode();
        let response = harness.get_query(&harness.interactions_url("carol"), &[("$skiptoken", &third)]).await;
        assert_eq!(response.bytes().await.expect("body"), Bytes::from_static(b"<html>oops</html>"));

        let past_end = SkipToken::RawPage(3).encode();
        let response = harness.get_query(&harness.interactions_url("carol"), &[("$skiptoken", &past_end)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn beta_is_served_like_v1() {
        let harness = Harness::start(hourly_dataset()).await;
        let url = format!(
            "{}/beta/copilot/users/alice/interactionHistory/getAllEnterpriseInteractions",
            harness.simulator.base_url()
        );
        let page: Value = harness.get(&url).await.json().await.expect("JSON");
        assert!(page["@odata.context"].as_str().expect("context").contains("/beta/$metadata"));
    }
}

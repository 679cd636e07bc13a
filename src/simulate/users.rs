//! `GET /{version}/users`: the directory, optionally filtered to holders of one license.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::dataset::{COPILOT_SKU_ID, SimUser};
use super::errors::{GraphError, RequestIds, json_response};
use super::interactions::request_host;
use super::query::{QueryOptions, SkipToken, next_link, parse_license_filter, parse_top};
use super::server::{AppState, check_version};

const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 999;

/// The properties `$select` may name. Without `$select`, Graph returns its default set, which
/// the first eleven of these are.
const PROPERTIES: [&str; 12] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
    "assignedLicenses",
];

pub(super) async fn list_users(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    Extension(ids): Extension<RequestIds>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let request = UsersRequest { state: &state, version: &version, headers: &headers, uri: &uri };
    request.respond(raw.as_deref()).unwrap_or_else(|error| {
        tracing::debug!(status = error.status.as_u16(), code = error.code, request_id = %ids.request_id, "user listing failed");
        error.render(&ids)
    })
}

struct UsersRequest<'a> {
    state: &'a AppState,
    version: &'a str,
    headers: &'a HeaderMap,
    uri: &'a Uri,
}

impl UsersRequest<'_> {
    fn respond(&self, raw_query: Option<&str>) -> Result<Response, GraphError> {
        check_version(self.version)?;
        self.state.tokens.authorize(self.headers)?;
        let options = QueryOptions::parse(raw_query)?;
        options.reject_unsupported(&["$filter", "$select", "$top", "$skiptoken", "$count"])?;
        let top = parse_top(options.get("$top"), DEFAULT_TOP, MAX_TOP)?;
        let select = parse_select(options.get("$select"))?;
        let sku = options.get("$filter").map(parse_license_filter).transpose()?;
        let offset = match options.get("$skiptoken").map(SkipToken::decode).transpose()? {
            None => 0,
            Some(SkipToken::Users(offset)) => offset,
            Some(_) => return Err(GraphError::bad_request("The $skiptoken does not belong to this collection.")),
        };

        let matching: Vec<&SimUser> = self
            .state
            .dataset
            .users
            .iter()
            .filter(|user| sku.as_deref().is_none_or(|sku| user.licensed && sku == COPILOT_SKU_ID))
            .collect();
        let page = matching.iter().skip(offset).take(top);
        let value: Vec<Value> = page.map(|user| user_json(user, &select)).collect();

        let mut body = Map::new();
        body.insert("@odata.context".into(), Value::from(self.context_url(options.get("$select"))));
        if offset + top < matching.len() {
            let token = SkipToken::Users(offset + top).encode();
            let mut parameters = options.carried(&["$filter", "$select", "$top", "$count"]);
            parameters.push(("$skiptoken", &token));
            let link = next_link(&request_host(self.headers, self.state.addr), self.uri.path(), &parameters);
            body.insert("@odata.nextLink".into(), Value::from(link));
        }
        body.insert("value".into(), Value::from(value));
        Ok(json_response(StatusCode::OK, &body))
    }

    fn context_url(&self, select: Option<&str>) -> String {
        let host = request_host(self.headers, self.state.addr);
        match select {
            Some(select) => format!("http://{host}/{}/$metadata#users({select})", self.version),
            None => format!("http://{host}/{}/$metadata#users", self.version),
        }
    }
}

/// Returns the selected properties, or the default set when `$select` is absent.
fn parse_select(select: Option<&str>) -> Result<Vec<&'static str>, GraphError> {
    let Some(text) = select else {
        return Ok(PROPERTIES[..11].to_vec());
    };
    text.split(',')
        .map(str::trim)
        .map(|name| {
            PROPERTIES.iter().find(|known| known.eq_ignore_ascii_case(name)).copied().ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.user'."
                ))
            })
        })
        .collect()
}

fn user_json(user: &SimUser, select: &[&str]) -> Value {
    let (given_name, surname) = match user.display_name.split_once(' ') {
        Some((given, family)) => (Value::from(given), Value::from(family)),
        None => (Value::Null, Value::Null),
    };
    let licenses = if user.licensed { json!([{ "disabledPlans": [], "skuId": COPILOT_SKU_ID }]) } else { json!([]) };
    let mut object = Map::new();
    for &property in select {
        let value = match property {
            "id" => Value::from(user.id.as_str()),
            "displayName" => Value::from(user.display_name.as_str()),
            "userPrincipalName" | "mail" => Value::from(user.user_principal_name.as_str()),
            "givenName" => given_name.clone(),
            "surname" => surname.clone(),
            "businessPhones" => json!([]),
            "assignedLicenses" => licenses.clone(),
            "preferredLanguage" => Value::from("en-US"),
            _ => Value::Null,
        };
        object.insert(property.to_owned(), value);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(licensed: bool) -> SimUser {
        SimUser {
            id: "u1".into(),
            user_principal_name: "zoe.muller@contoso.onmicrosoft.com".into(),
            display_name: "Zoë Müller".into(),
            licensed,
        }
    }

    #[test]
    fn select_limits_properties() {
        let select = parse_select(Some("id,userPrincipalName,displayName")).expect("known properties");
        let json = user_json(&user(true), &select);
        assert_eq!(json.as_object().expect("object").len(), 3);
        assert_eq!(json["displayName"], "Zoë Müller");
    }

    #[test]
    fn select_rejects_unknown_property() {
        let error = parse_select(Some("id,shoeSize")).expect_err("unknown property");
        assert!(error.message.contains("'shoeSize'"), "{}", error.message);
    }

    #[test]
    fn licenses_follow_user() {
        let select = parse_select(Some("assignedLicenses")).expect("known property");
        assert_eq!(user_json(&user(true), &select)["assignedLicenses"][0]["skuId"], COPILOT_SKU_ID);
        assert_eq!(user_json(&user(false), &select)["assignedLicenses"], json!([]));
    }

    async fn harness() -> crate::simulate::test_support::Harness {
        let options = crate::simulate::GenerateOptions {
            users: 7,
            unlicensed_users: 3,
            interactions_per_user: 2,
            ..crate::simulate::GenerateOptions::default()
        };
        crate::simulate::test_support::Harness::start(crate::simulate::Dataset::generate(&options)).await
    }

    #[tokio::test]
    async fn license_filter_pages_licensed_users() {
        let harness = harness().await;
        let url = format!("{}/users", harness.simulator.graph_url());
        let filter = format!("assignedLicenses/any(x:x/skuId eq {COPILOT_SKU_ID})");
        let query = [("$filter", filter.as_str()), ("$select", "id,userPrincipalName,displayName"), ("$top", "3")];
        let first = harness.get_query(&url, &query).await;
        let pages = harness.all_pages(first).await;
        assert_eq!(pages.len(), 3);
        let link = pages[0]["@odata.nextLink"].as_str().expect("nextLink");
        assert!(link.contains("$select=id%2CuserPrincipalName%2CdisplayName"), "{link}");
        let users: Vec<Value> =
            pages.iter().flat_map(|page| page["value"].as_array().cloned().unwrap_or_default()).collect();
        assert_eq!(users.len(), 7);
        assert!(users.iter().all(|user| user.as_object().expect("object").len() == 3));
        let context = pages[0]["@odata.context"].as_str().expect("context");
        assert!(context.ends_with("/v1.0/$metadata#users(id,userPrincipalName,displayName)"), "{context}");
    }

    #[tokio::test]
    async fn unfiltered_listing_has_all_users() {
        let harness = harness().await;
        let url = format!("{}/users", harness.simulator.graph_url());
        let pages = harness.all_pages(harness.get(&url).await).await;
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0]["value"].as_array().expect("value").len(), 10);
        assert!(pages[0]["value"][0].get("givenName").is_some(), "default properties");
    }

    #[tokio::test]
    async fn other_sku_matches_nobody() {
        let harness = harness().await;
        let url = format!("{}/users", harness.simulator.graph_url());
        let filter = "assignedLicenses/any(x:x/skuId eq 00000000-0000-0000-0000-000000000001)";
        let page: Value = harness.get_query(&url, &[("$filter", filter)]).await.json().await.expect("JSON");
        assert_eq!(page["value"], json!([]));
    }

    #[tokio::test]
    async fn unsupported_filter_returns_400() {
        let harness = harness().await;
        let url = format!("{}/beta/users", harness.simulator.base_url());
        let response = harness.get_query(&url, &[("$filter", "accountEnabled eq true")]).await;
        let error = crate::simulate::test_support::graph_error(response, reqwest::StatusCode::BAD_REQUEST).await;
        assert_eq!(error["code"], "BadRequest");
        let response = harness.get_query(&url, &[("$top", "1000")]).await;
        crate::simulate::test_support::graph_error(response, reqwest::StatusCode::BAD_REQUEST).await;
    }
}

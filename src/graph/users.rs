//! Listing the users to sync: the holders of a license SKU, or the members of an Entra group.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::Deserialize;
use url::Url;

use super::client::GraphClient;
use super::error::GraphError;

/// The Microsoft 365 Copilot SKU id.
pub const COPILOT_SKU: &str = "639dec6b-bb19-468b-871c-c5c441c4b0cb";

/// The page size for user listings; 999 is Graph's maximum for `/users`.
const USER_PAGE_SIZE: &str = "999";

#[derive(Deserialize)]
struct UserPage {
    value: Vec<UserEntry>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct UserEntry {
    id: Option<String>,
}

/// Returns the ids of every user holding one of `skus`, sorted and without repeats.
pub async fn licensed_users(client: &GraphClient, skus: &[String]) -> Result<Vec<String>, GraphError> {
    let mut ids = BTreeSet::new();
    for sku in skus {
        let filter = format!("assignedLicenses/any(x:x/skuId eq {sku})");
        let url = endpoint(client.graph_url(), &["users"], &filter)?;
        ids.extend(list_ids(client, url).await?);
    }
    Ok(ids.into_iter().collect())
}

/// Returns the ids of the users in an Entra group, nested groups included.
pub async fn group_members(client: &GraphClient, group_id: &str) -> Result<Vec<String>, GraphError> {
    let url = endpoint(client.graph_url(), &["groups", group_id, "transitiveMembers", "microsoft.graph.user"], "")?;
    let ids: BTreeSet<String> = list_ids(client, url).await?.into_iter().collect();
    Ok(ids.into_iter().collect())
}

fn endpoint(graph_url: &Url, segments: &[&str], filter: &str) -> Result<Url, GraphError> {
    let mut url = graph_url.clone();
    url.path_segments_mut()
        .map_err(|()| GraphError::InvalidUrl {
            url: graph_url.to_string(),
            reason: "the Graph URL cannot have a path".into(),
        })?
        .pop_if_empty()
        .extend(segments);
    {
        let mut pairs = url.query_pairs_mut();
        if !filter.is_empty() {
            pairs.append_pair("$filter", filter);
        }
        pairs.append_pair("$select", "id,userPrincipalName");
        pairs.append_pair("$top", USER_PAGE_SIZE);
    }
    Ok(url)
}

async fn list_ids(client: &GraphClient, first: Url) -> Result<Vec<String>, GraphError> {
    let mut ids = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next.take() {
        let page = client.get(&url, parse_user_page).await?;
        ids.extend(page.value.into_iter().filter_map(|user| user.id));
        if let Some(link) = page.next_link {
            next = Some(client.check_link(&link)?);
        }
    }
    Ok(ids)
}

fn parse_user_page(body: &Bytes) -> Result<UserPage, String> {
    serde_json::from_slice(body).map_err(|error| format!("user page is not valid: {error}"))
}

/// Reads a users file: one id or UPN a line; blank lines and lines starting with `#` are skipped.
pub fn parse_users_file(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_skips_comments_and_blanks() {
        let text = "# exported 2026-12-01\nalice@contoso.com\n\n  4db02e4b-d144-400e-b194-53253a34c5be  \r\n";
        assert_eq!(parse_users_file(text), ["alice@contoso.com", "4db02e4b-d144-400e-b194-53253a34c5be"]);
    }

    #[test]
    fn license_filter_is_encoded() {
        let graph = Url::parse("https://graph.microsoft.com/v1.0").expect("url");
        let filter = format!("assignedLicenses/any(x:x/skuId eq {COPILOT_SKU})");
        let url = endpoint(&graph, &["users"], &filter).expect("url");
        assert_eq!(url.path(), "/v1.0/users");
        let sent: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(sent[0], ("$filter".to_owned(), filter));
    }
}

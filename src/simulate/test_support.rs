//! A simulator on 127.0.0.1 and a client for the HTTP tests of the other files.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use super::dataset::Dataset;
use super::server::{RunningSimulator, ServerOptions, start};

pub(super) struct Harness {
    pub simulator: RunningSimulator,
    pub http: reqwest::Client,
    pub token: String,
}

impl Harness {
    /// Starts a simulator that accepts any tenant and secret, and fetches a token from it.
    pub async fn start(dataset: Dataset) -> Harness {
        let mut harness = Harness::start_with(dataset, ServerOptions::default()).await;
        harness.token = harness.fetch_token("contoso", "app-1", "secret").await;
        harness
    }

    /// Starts a simulator with `options` and no token yet.
    pub async fn start_with(dataset: Dataset, options: ServerOptions) -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let simulator = start(Arc::new(dataset), options, listener).await.expect("simulator starts");
        Harness { simulator, http: reqwest::Client::new(), token: String::new() }
    }

    pub async fn request_token(&self, tenant: &str, client_id: &str, secret: &str) -> reqwest::Response {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.simulator.base_url());
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ];
        self.http.post(url).form(&form).send().await.expect("token request")
    }

    pub async fn fetch_token(&self, tenant: &str, client_id: &str, secret: &str) -> String {
        let response = self.request_token(tenant, client_id, secret).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("token JSON");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    pub fn interactions_url(&self, user: &str) -> String {
        format!("{}/copilot/users/{user}/interactionHistory/getAllEnterpriseInteractions", self.simulator.graph_url())
    }

    /// Sends a GET with the harness token.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).bearer_auth(&self.token).send().await.expect("GET")
    }

    /// Sends a GET with the harness token and `query` pairs, which reqwest percent-encodes.
    pub async fn get_query(&self, url: &str, query: &[(&str, &str)]) -> reqwest::Response {
        self.http.get(url).bearer_auth(&self.token).query(query).send().await.expect("GET")
    }

    /// Follows `@odata.nextLink` from the response to `first` and returns every page.
    pub async fn all_pages(&self, first: reqwest::Response) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut response = first;
        loop {
            assert_eq!(response.status(), StatusCode::OK, "page {}", pages.len());
            let page: Value = response.json().await.expect("page JSON");
            let next = page["@odata.nextLink"].as_str().map(str::to_owned);
            pages.push(page);
            let Some(link) = next else {
                return pages;
            };
            assert!(pages.len() < 10_000, "paging does not end");
            response = self.get(&link).await;
        }
    }

    /// Returns the records of every page, in order.
    pub async fn all_records(&self, first: reqwest::Response) -> Vec<Value> {
        let pages = self.all_pages(first).await;
        pages.into_iter().flat_map(|page| page["value"].as_array().cloned().unwrap_or_default()).collect()
    }
}

/// Returns the `error` object of a Graph error response after checking its status and headers.
pub(super) async fn graph_error(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert!(response.headers().contains_key("request-id"));
    assert!(response.headers().contains_key("client-request-id"));
    let body: Value = response.json().await.expect("error JSON");
    body["error"].clone()
}

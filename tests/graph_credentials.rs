//! Credentials through the real binary: the start-of-run permission check, client
//! certificates, Azure workload identity, the refresh after a 401, and that no secret, token or
//! passphrase reaches the output, even with trace logs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use copilot_lake::simulate::assertion::load_certificate;
use copilot_lake::simulate::dataset::{Dataset, GenerateOptions};
use copilot_lake::simulate::faults::FaultOptions;
use copilot_lake::simulate::server::{self, RunningSimulator, ServerOptions};
use serde_json::json;

const PASSPHRASE: &str = "fixture-passphrase";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/certificates/{name}", env!("CARGO_MANIFEST_DIR"))
}

async fn start(dataset: Dataset, options: ServerOptions) -> RunningSimulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("loopback port");
    server::start(Arc::new(dataset), options, listener).await.expect("simulator starts")
}

/// Counts the simulator's Graph requests: any active fault turns the counter on.
fn counted() -> FaultOptions {
    FaultOptions { latency: Duration::from_millis(1), ..FaultOptions::default() }
}

/// Runs the binary with only the given credential variables and trace logs, so a secret that
/// any layer logs shows up in stderr.
async fn run(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_copilot-lake"));
        command.args(&args).env("COPILOT_LAKE_LOG", "trace");
        for name in [
            "COPILOT_LAKE_CLIENT_SECRET",
            "COPILOT_LAKE_CLIENT_CERTIFICATE_PASSPHRASE",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
        ] {
            command.env_remove(name);
        }
        command.envs(env).output().expect("the copilot-lake binary runs")
    })
    .await
    .expect("task")
}

fn sync_args(graph_url: &str, authority_url: &str, lake: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "sync",
        "--out",
        &lake.display().to_string(),
        "--graph-url",
        graph_url,
        "--authority-url",
        authority_url,
        "--since",
        "2026-10-01",
        "--until",
        "2026-12-01",
        "--max-requests-per-second",
        "200",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    args
}

fn simulator_args(simulator: &RunningSimulator, lake: &Path, extra: &[&str]) -> Vec<String> {
    sync_args(&simulator.graph_url(), &simulator.base_url(), lake, extra)
}

fn assert_no_leak(output: &Output, secrets: &[&str]) {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), common::stderr(output));
    for secret in secrets {
        assert!(!text.contains(secret), "'{secret}' leaked into the output");
    }
}

fn interaction_rows(lake: &Path) -> usize {
    common::read_table(lake, "interactions").len()
}

fn expected_rows(dataset: &Dataset, options: &GenerateOptions) -> usize {
    dataset.licensed_users().map(|user| dataset.records_in_window(&user.id, options.start, options.end).len()).sum()
}

/// Builds a JWT-shaped token whose only readable part is its claims, as the connector reads them.
fn jwt_with_roles(roles: &[&str]) -> String {
    let claims = json!({ "exp": 4_000_000_000_i64, "roles": roles, "marker": "token-body-marker" });
    format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_role_exits_2_before_any_request() {
    let options =
        GenerateOptions { users: 2, unlicensed_users: 0, interactions_per_user: 20, ..GenerateOptions::default() };
    let simulator =
        start(Dataset::generate(&options), ServerOptions { faults: counted(), ..ServerOptions::default() }).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    let lake = dir.path().join("lake");

    std::fs::write(&token_file, jwt_with_roles(&["User.Read.All"])).expect("token file");
    let token_arg = token_file.display().to_string();
    let output =
        run(simulator_args(&simulator, &lake, &["--access-token-file", &token_arg, "--user", "u1"]), vec![]).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    let stderr = common::stderr(&output);
    assert!(stderr.contains("lacks the application permission AiEnterpriseInteraction.Read.All"), "{stderr}");
    assert!(stderr.contains("grant admin consent"), "{stderr}");
    assert_no_leak(&output, &[&jwt_with_roles(&["User.Read.All"])]);

    // The license listing needs a directory permission too.
    std::fs::write(&token_file, jwt_with_roles(&["AiEnterpriseInteraction.Read.All"])).expect("token file");
    let output = run(simulator_args(&simulator, &lake, &["--access-token-file", &token_arg]), vec![]).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    let stderr = common::stderr(&output);
    assert!(stderr.contains("permission User.Read.All"), "{stderr}");
    assert!(stderr.contains("--user or --users-file"), "{stderr}");

    assert_eq!(simulator.fault_counts().requests, 0, "Graph got a request");
    simulator.shutdown().await;
}

async fn certificate_simulator(options: &GenerateOptions) -> (RunningSimulator, Dataset) {
    let dataset = Dataset::generate(options);
    let server = ServerOptions {
        tenant_id: Some("contoso".into()),
        client_id: Some("cert-app".into()),
        client_secret: Some(common::SECRET.into()),
        client_certificate: Some(load_certificate(Path::new(&fixture("client.crt"))).expect("certificate")),
        ..ServerOptions::default()
    };
    (start(dataset.clone(), server).await, dataset)
}

#[tokio::test(flavor = "multi_thread")]
async fn client_certificate_signs_in() {
    let options =
        GenerateOptions { users: 3, unlicensed_users: 0, interactions_per_user: 150, ..GenerateOptions::default() };
    let (simulator, dataset) = certificate_simulator(&options).await;
    let ids = ["--tenant-id", "contoso", "--client-id", "cert-app"];

    let combined = fixture("client-combined.pem");
    let lake = tempfile::tempdir().expect("tempdir");
    let mut flags = ids.to_vec();
    flags.extend(["--client-certificate", &combined]);
    let output = run(simulator_args(&simulator, lake.path(), &flags), vec![]).await;
    common::assert_success(&output);
    assert_eq!(interaction_rows(lake.path()), expected_rows(&dataset, &options));

    // The encrypted key, with its passphrase from the environment.
    let (crt, encrypted) = (fixture("client.crt"), fixture("client-encrypted.key"));
    let lake = tempfile::tempdir().expect("tempdir");
    let mut flags = ids.to_vec();
    flags.extend(["--client-certificate", &crt, "--client-certificate-key", &encrypted]);
    let env = vec![("COPILOT_LAKE_CLIENT_CERTIFICATE_PASSPHRASE", PASSPHRASE.to_owned())];
    let output = run(simulator_args(&simulator, lake.path(), &flags), env).await;
    common::assert_success(&output);
    assert_eq!(interaction_rows(lake.path()), expected_rows(&dataset, &options));
    assert_no_leak(&output, &[PASSPHRASE, "PRIVATE KEY"]);

    // A wrong passphrase stops at the start, without echoing it.
    let env = vec![("COPILOT_LAKE_CLIENT_CERTIFICATE_PASSPHRASE", "wrong-passphrase-value".to_owned())];
    let output = run(simulator_args(&simulator, lake.path(), &flags), env).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("cannot decrypt the private key"), "{}", common::stderr(&output));
    assert_no_leak(&output, &["wrong-passphrase-value"]);
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unregistered_certificate_is_rejected() {
    let options =
        GenerateOptions { users: 1, unlicensed_users: 0, interactions_per_user: 10, ..GenerateOptions::default() };
    let server = ServerOptions {
        client_certificate: Some(load_certificate(Path::new(&fixture("other.crt"))).expect("certificate")),
        ..ServerOptions::default()
    };
    let simulator = start(Dataset::generate(&options), server).await;
    let lake = tempfile::tempdir().expect("tempdir");
    let combined = fixture("client-combined.pem");
    // The simulator registers only the other certificate, so the assertion's x5t#S256 is unknown.
    let flags = ["--tenant-id", "contoso", "--client-id", "cert-app", "--client-certificate", &combined];
    let output = run(simulator_args(&simulator, lake.path(), &flags), vec![]).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("AADSTS700027"), "{}", common::stderr(&output));
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workload_identity_uses_azure_variables() {
    let options =
        GenerateOptions { users: 2, unlicensed_users: 0, interactions_per_user: 120, ..GenerateOptions::default() };
    let dataset = Dataset::generate(&options);
    let server = ServerOptions {
        tenant_id: Some("wi-tenant".into()),
        client_id: Some("wi-client".into()),
        client_secret: Some(common::SECRET.into()),
        ..ServerOptions::default()
    };
    let simulator = start(dataset.clone(), server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("azure-identity-token");
    let federated =
        "eyJhbGciOiJSUzI1NiIsImtpZCI6Ims4cyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnM6c2EifQ.federated-signature";
    std::fs::write(&token_file, format!("{federated}\n")).expect("token file");
    let env = |file: &Path| {
        vec![
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
            ("AZURE_CLIENT_ID", "wi-client".to_owned()),
            ("AZURE_TENANT_ID", "wi-tenant".to_owned()),
        ]
    };

    let lake = dir.path().join("lake");
    let output = run(simulator_args(&simulator, &lake, &[]), env(&token_file)).await;
    common::assert_success(&output);
    assert_eq!(interaction_rows(&lake), expected_rows(&dataset, &options));
    assert_no_leak(&output, &["federated-signature"]);

    // A file that is not a JWT reaches the token endpoint and is rejected there.
    let bad_file = dir.path().join("bad-token");
    std::fs::write(&bad_file, "not-a-jwt").expect("token file");
    let output = run(simulator_args(&simulator, &dir.path().join("lake2"), &[]), env(&bad_file)).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("AADSTS50027"), "{}", common::stderr(&output));

    let missing = dir.path().join("missing-token");
    let output = run(simulator_args(&simulator, &dir.path().join("lake3"), &[]), env(&missing)).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("cannot read the federated token file"), "{}", common::stderr(&output));
    simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_exits_2_without_echo() {
    let options =
        GenerateOptions { users: 1, unlicensed_users: 0, interactions_per_user: 10, ..GenerateOptions::default() };
    let simulator = start(
        Dataset::generate(&options),
        ServerOptions { client_secret: Some(common::SECRET.into()), ..ServerOptions::default() },
    )
    .await;
    let lake = tempfile::tempdir().expect("tempdir");
    let flags = ["--tenant-id", "contoso", "--client-id", "app"];
    let env = vec![("COPILOT_LAKE_CLIENT_SECRET", "wrong-secret-value".to_owned())];
    let output = run(simulator_args(&simulator, lake.path(), &flags), env).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("AADSTS7000215"), "{}", common::stderr(&output));
    assert_no_leak(&output, &["wrong-secret-value"]);

    // The right secret: the issued tokens never reach the output either.
    let env = vec![("COPILOT_LAKE_CLIENT_SECRET", common::SECRET.to_owned())];
    let output = run(simulator_args(&simulator, lake.path(), &flags), env).await;
    common::assert_success(&output);
    // Every token of the simulator starts with the same encoded header.
    let token_header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"none","kid":"copilot-lake-simulator"}"#);
    assert_no_leak(&output, &[common::SECRET, &token_header]);
    simulator.shutdown().await;
}

/// Starts a Graph stand-in that rejects `old-token` with 401 InvalidAuthenticationToken, and then
/// (when `rotate`) writes `new-token` to the token file, as a token refresher would.
async fn rotating_graph(token_file: PathBuf, rotate: bool) -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let page = json!({ "value": [{
        "id": "1", "sessionId": "19:s@thread.v2", "createdDateTime": "2026-11-02T00:00:00Z",
        "contexts": [], "attachments": [], "links": [], "mentions": []
    }] })
    .to_string();
    let handler = move |headers: HeaderMap| {
        let counter = Arc::clone(&counter);
        let token_file = token_file.clone();
        let page = page.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let authorization = headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or_default();
            if authorization == "Bearer new-token" {
                return (StatusCode::OK, page);
            }
            if rotate {
                std::fs::write(&token_file, "new-token").expect("rotate the token");
            }
            let body = json!({ "error": { "code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid." } });
            (StatusCode::UNAUTHORIZED, body.to_string())
        }
    };
    let app =
        Router::new().route("/v1.0/copilot/users/{user}/interactionHistory/getAllEnterpriseInteractions", get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1.0"), requests)
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_token_is_refreshed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "old-token").expect("token file");
    let (graph_url, requests) = rotating_graph(token_file.clone(), true).await;
    let token_arg = token_file.display().to_string();
    let flags = ["--access-token-file", &token_arg, "--user", "u1"];

    let output = run(sync_args(&graph_url, "http://127.0.0.1:9", &dir.path().join("lake"), &flags), vec![]).await;
    common::assert_success(&output);
    assert_eq!(requests.load(Ordering::SeqCst), 2, "one 401, then one request with the new token");
    assert_eq!(interaction_rows(&dir.path().join("lake")), 1);

    // A token that stays rejected: one refresh, then the run stops with exit 2.
    std::fs::write(&token_file, "old-token").expect("token file");
    let (graph_url, requests) = rotating_graph(token_file.clone(), false).await;
    let output = run(sync_args(&graph_url, "http://127.0.0.1:9", &dir.path().join("lake2"), &flags), vec![]).await;
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    assert_eq!(requests.load(Ordering::SeqCst), 2, "exactly one refresh");
    assert!(common::stderr(&output).contains("InvalidAuthenticationToken"), "{}", common::stderr(&output));
    assert_no_leak(&output, &["old-token"]);
}

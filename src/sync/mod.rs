//! One sync run: take the lake's lock, finish any interrupted commit, resolve the users, read
//! each user's window concurrently, write the rows to staging, then commit (see [`commit`]).
//!
//! A user's rows reach the writer only after every page of its window was read, so a user that
//! fails midway leaves nothing behind. Files become visible only after every user finished; a
//! run that fails as a whole publishes nothing.

pub mod commit;
pub mod lock;
pub mod plan;
pub mod progress;
pub mod signals;
pub mod state;
pub mod summary;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::graph::auth::TokenProvider;
use crate::graph::interactions::read_history;
use crate::graph::{GraphClient, GraphError, UserHistory, UserOutcome, Window, users};
use crate::privacy::{Privacy, RejectedRecord};
use crate::sink::{self, Lake, LakeWriter, StagedFile};
use commit::{CommitError, CommitRecord};
use lock::{LockError, RunLock};
pub use plan::{ConfigError, Scope, SyncPlan};
use progress::Progress;
use signals::StopFlag;
use state::{LakeState, StateError};
use summary::{FailedUser, RunSummary, UserCounts};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Open(#[from] sink::store::OpenError),
    #[error("{context}: {source}")]
    Graph { context: String, source: GraphError },
    #[error(transparent)]
    Sink(#[from] sink::SinkError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

impl SyncError {
    /// The process exit code: 2 for what the user must fix in the configuration, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            SyncError::Config(_) | SyncError::Open(_) => 2,
            SyncError::Graph { source, .. } if source.is_fatal_for_run() => 2,
            _ => 1,
        }
    }
}

/// The window of one user.
#[derive(Debug, Clone)]
pub struct UserWindow {
    pub user_id: String,
    pub window: Window,
}

/// The result of reading one user's window.
struct UserResult {
    user_id: String,
    window: Window,
    history: Result<UserHistory, GraphError>,
}

/// How many completed users may wait for the writer before readers pause.
const WRITER_QUEUE: usize = 4;

pub fn new_run_id(now: DateTime<Utc>) -> String {
    let suffix: u32 = rand::random();
    format!("{}-{:06x}", now.format("%Y%m%dT%H%M%SZ"), suffix & 0xff_ffff)
}

pub fn http_client() -> Result<reqwest::Client, SyncError> {
    reqwest::Client::builder()
        .user_agent(concat!("copilot-lake/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        // Graph does not redirect these calls; following a redirect could carry the token away.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| SyncError::Http(error.to_string()))
}

/// Runs one sync. Returns the summary also when some users failed; the caller maps that to
/// exit code 3.
pub async fn run(plan: SyncPlan, stop: StopFlag) -> Result<RunSummary, SyncError> {
    let started_at = Utc::now();
    let run_id = new_run_id(started_at);
    let lake = sink::store::open(&plan.lake, &plan.store_options)?;
    let http = http_client()?;
    let tokens = TokenProvider::new(plan.credential.clone(), http.clone());
    let client = Arc::new(GraphClient::new(
        http,
        plan.graph_url.clone(),
        tokens,
        plan.max_requests_per_second,
        plan.retry.clone(),
    ));
    client
        .check_permissions(plan.scope.user_listing())
        .await
        .map_err(|source| SyncError::Graph { context: "cannot start the run with this credential".into(), source })?;

    if plan.dry_run {
        let user_ids = resolve_users(&client, &plan.scope).await?;
        let state = LakeState::load(&lake).await?;
        let windows = plan_windows(&plan, &state, &user_ids);
        print_plan(&windows);
        let run = RunState::new(run_id, lake, &plan);
        return Ok(run.summarize(started_at, &plan, &client));
    }

    let lock = RunLock::acquire(&lake, &run_id, plan.lock_ttl, plan.wait_for_lock).await?;
    let lock = Arc::new(tokio::sync::Mutex::new(lock));
    let renewal = tokio::spawn(renew_lock(Arc::clone(&lock)));
    let result = locked_run(&plan, &client, &lake, run_id.clone(), started_at, &lock, stop).await;
    renewal.abort();
    // The aborted task drops its handle on the lock only once awaited.
    let _ = renewal.await;
    let lock = Arc::try_unwrap(lock).map(tokio::sync::Mutex::into_inner);
    if let Ok(lock) = lock
        && let Err(error) = lock.release().await
    {
        tracing::warn!(error = %error, "cannot release the lake's lock; the next run takes it over once it expires");
    }
    let summary = result?;
    tracing::info!(
        run_id,
        users_ok = summary.users.ok,
        users_failed = summary.users.failed,
        files = summary.files,
        duration_seconds = summary.duration_seconds,
        "sync finished"
    );
    Ok(summary)
}

/// The part of a run that needs the lock.
async fn locked_run(
    plan: &SyncPlan,
    client: &Arc<GraphClient>,
    lake: &Lake,
    run_id: String,
    started_at: DateTime<Utc>,
    lock: &tokio::sync::Mutex<RunLock>,
    stop: StopFlag,
) -> Result<RunSummary, SyncError> {
    let finished = commit::recover(lake).await?;
    if finished > 0 {
        tracing::info!(commits = finished, "finished interrupted commits");
    }
    let user_ids = resolve_users(client, &plan.scope).await?;
    let state = LakeState::load(lake).await?;
    crate::privacy::lake::check(lake, &state, &plan.privacy).await?;
    let windows = plan_windows(plan, &state, &user_ids);
    tracing::info!(run_id, users = windows.len(), lake = lake.location, "sync started");

    let mut run = RunState::new(run_id, lake.clone(), plan);
    if let Err(error) = read_and_write(plan, client, windows, &mut run, stop).await {
        discard_staging(lake, &run.run_id).await;
        return Err(error);
    }
    if let Err(error) = lock.lock().await.check().await {
        discard_staging(lake, &run.run_id).await;
        return Err(error.into());
    }
    run.commit(started_at, plan, client).await
}

/// Renews the lease at a third of its lifetime, so two missed renewals still leave it valid.
async fn renew_lock(lock: Arc<tokio::sync::Mutex<RunLock>>) {
    let period = lock.lock().await.ttl() / 3;
    loop {
        tokio::time::sleep(period).await;
        if let Err(error) = lock.lock().await.renew().await {
            tracing::error!(error = %error, "cannot renew the lake's lock; the commit will check it again");
        }
    }
}

/// Deletes what a failed run staged. Best effort: the next run deletes leftovers anyway.
async fn discard_staging(lake: &Lake, run_id: &str) {
    let prefix = lake.root.join(&format!("{}/staging/{run_id}", sink::layout::META_DIR));
    let listed: Result<Vec<object_store::ObjectMeta>, _> = lake.store.list(Some(&prefix)).try_collect().await;
    for meta in listed.unwrap_or_default() {
        let _ = lake.store.delete(&meta.location).await;
    }
    sink::store::remove_empty_folders(lake, &lake.root.join(sink::layout::META_DIR));
}

async fn resolve_users(client: &GraphClient, scope: &Scope) -> Result<Vec<String>, SyncError> {
    let graph = |context: &str| {
        let context = context.to_owned();
        move |source| SyncError::Graph { context, source }
    };
    match scope {
        Scope::Users(ids) => Ok(ids.clone()),
        Scope::Group(group) => users::group_members(client, group)
            .await
            .map_err(graph(&format!("cannot list the members of group {group}"))),
        Scope::Licensed(skus) => users::licensed_users(client, skus)
            .await
            .map_err(graph(&format!("cannot list the users holding license {}", skus.join(", ")))),
    }
}

/// Each user's window: `--since` when given, else the user's cursor moved back by `--lookback`
/// (records that appear late are read again, and the writer skips keys already landed), else
/// `--initial-lookback` before `--until`.
fn plan_windows(plan: &SyncPlan, state: &LakeState, user_ids: &[String]) -> Vec<UserWindow> {
    let duration = |value: Duration| chrono::Duration::from_std(value).unwrap_or(chrono::Duration::days(30));
    let initial = duration(plan.initial_lookback);
    let lookback = duration(plan.lookback);
    user_ids
        .iter()
        .filter_map(|user_id| {
            let start = plan
                .since
                .or_else(|| state.users.get(user_id).map(|cursor| cursor.cursor - lookback))
                .unwrap_or(plan.until - initial);
            (start < plan.until)
                .then(|| UserWindow { user_id: user_id.clone(), window: Window { start, end: plan.until } })
        })
        .collect()
}

fn print_plan(windows: &[UserWindow]) {
    println!("dry run: {} user(s), at least {} request(s)", windows.len(), windows.len());
    for user in windows {
        println!("{}\t{}\t{}", user.user_id, user.window.start.to_rfc3339(), user.window.end.to_rfc3339());
    }
}

async fn read_and_write(
    plan: &SyncPlan,
    client: &Arc<GraphClient>,
    windows: Vec<UserWindow>,
    run: &mut RunState,
    stop: StopFlag,
) -> Result<(), SyncError> {
    let planned = windows.len() as u64;
    let (sender, mut receiver) = mpsc::channel::<UserResult>(WRITER_QUEUE);
    let readers = tokio::spawn(read_users(Arc::clone(client), plan.clone(), windows, sender, stop.clone()));

    let mut writer = LakeWriter::new(run.lake.clone(), run.run_id.clone(), plan.write.clone());
    let mut progress = Progress::new(plan.progress, planned as usize, Arc::clone(&client.stats));
    let mut fatal = None;
    while let Some(result) = receiver.recv().await {
        let (records, pages) = match &result.history {
            Ok(history) => (history.records.len() as u64, u64::from(history.pages)),
            Err(_) => (0, 0),
        };
        if let Some(error) = run.record(&mut writer, result).await? {
            fatal = Some(error);
            break;
        }
        progress.user_done(records, pages);
    }
    progress.finish();
    run.stopped_by = stop.requested();
    run.users.not_started = planned.saturating_sub(run.users.total);
    if let Some(error) = fatal {
        readers.abort();
        return Err(error);
    }
    readers.await.map_err(|error| SyncError::Http(format!("user reader task failed: {error}")))?;
    run.staged = writer.finish().await?;
    run.already_landed = writer.already_landed;
    Ok(())
}

async fn read_users(
    client: Arc<GraphClient>,
    plan: SyncPlan,
    windows: Vec<UserWindow>,
    sender: mpsc::Sender<UserResult>,
    stop: StopFlag,
) {
    // After a stop signal no new user starts; the users in flight finish.
    let not_stopped = move |_: &UserWindow| std::future::ready(stop.requested().is_none());
    let reads = futures::stream::iter(windows).take_while(not_stopped).map(|user| {
        let client = Arc::clone(&client);
        let query = plan.query.clone();
        let span = tracing::info_span!("user", user_id = %user.user_id);
        async move {
            let history = read_history(&client, &user.user_id, user.window, &query).await;
            UserResult { user_id: user.user_id, window: user.window, history }
        }
        .instrument(span)
    });
    // NOTE: each user in flight keeps its whole window as parsed records until its last page
    // (about 1.3 KB per interaction on the simulator's records), so memory grows with
    // --concurrency times the largest window, outside the writer's buffer budget.
    let mut results = reads.buffer_unordered(plan.concurrency);
    while let Some(result) = results.next().await {
        if sender.send(result).await.is_err() {
            return;
        }
    }
}

/// What a run has done so far, folded into the summary at the end.
struct RunState {
    run_id: String,
    lake: Lake,
    users: UserCounts,
    failed: Vec<FailedUser>,
    skipped: Vec<FailedUser>,
    cursors: BTreeMap<String, DateTime<Utc>>,
    window_start: Option<DateTime<Utc>>,
    pages: u64,
    rejected: u64,
    duplicates: u64,
    already_landed: u64,
    rejections: Vec<RejectedRecord>,
    privacy: Privacy,
    staged: Vec<StagedFile>,
    scope: String,
    stopped_by: Option<signals::StopSignal>,
}

impl RunState {
    fn new(run_id: String, lake: Lake, plan: &SyncPlan) -> Self {
        let scope = match &plan.scope {
            Scope::Users(ids) => format!("{} listed user(s)", ids.len()),
            Scope::Group(group) => format!("members of group {group}"),
            Scope::Licensed(skus) => format!("holders of license {}", skus.join(", ")),
        };
        RunState {
            run_id,
            lake,
            users: UserCounts::default(),
            failed: Vec::new(),
            skipped: Vec::new(),
            cursors: BTreeMap::new(),
            window_start: None,
            pages: 0,
            rejected: 0,
            duplicates: 0,
            already_landed: 0,
            rejections: Vec::new(),
            privacy: plan.privacy.clone(),
            staged: Vec::new(),
            scope,
            stopped_by: None,
        }
    }

    /// Folds one user's result in. Returns an error that must stop the whole run (bad
    /// credentials or a request Graph rejects for every user).
    async fn record(&mut self, writer: &mut LakeWriter, result: UserResult) -> Result<Option<SyncError>, SyncError> {
        let UserResult { user_id, window, history } = result;
        self.window_start = Some(self.window_start.map_or(window.start, |s| s.min(window.start)));
        let history = match history {
            Ok(history) => history,
            Err(error) if error.is_fatal_for_run() => {
                let context = format!("reading user {user_id} failed, and no other user can succeed");
                return Ok(Some(SyncError::Graph { context, source: error }));
            }
            Err(error) => {
                let outcome = error.user_outcome();
                self.users.count(outcome);
                if outcome == UserOutcome::Failed {
                    tracing::error!(user_id, error = %error, "user window not landed");
                } else {
                    tracing::warn!(user_id, outcome = ?outcome, error = %error, "user skipped");
                }
                let entry = FailedUser { user_id, outcome, error: error.to_string() };
                match outcome {
                    UserOutcome::Failed => self.failed.push(entry),
                    _ => self.skipped.push(entry),
                }
                return Ok(None);
            }
        };

        // The privacy controls apply before flattening, so no original value reaches a buffer.
        let mut history = history;
        for record in &mut history.records {
            self.privacy.apply(record);
        }
        writer.add(&self.privacy.user_id(&user_id), &history.records).await?;
        self.users.count(UserOutcome::Ok);
        self.pages += u64::from(history.pages);
        self.duplicates += history.duplicates;
        self.rejected += history.rejections.len() as u64;
        for rejection in &history.rejections {
            tracing::warn!(
                user_id,
                page = rejection.page,
                field = rejection.field,
                reason = rejection.reason,
                "record rejected"
            );
            self.rejections.push(self.privacy.rejected(&user_id, rejection));
        }
        self.cursors.insert(user_id, window.end);
        Ok(None)
    }

    /// Commits the run: the rejected records first (a plain write: harmless if the commit never
    /// happens), then the commit record that publishes the files and advances the cursors.
    async fn commit(
        self,
        started_at: DateTime<Utc>,
        plan: &SyncPlan,
        client: &GraphClient,
    ) -> Result<RunSummary, SyncError> {
        if !self.rejections.is_empty() {
            let path = format!("{}/rejected/{}.json", sink::layout::META_DIR, self.run_id);
            state::put_json(&self.lake, &path, &self.rejections).await?;
        }
        let lake = self.lake.clone();
        let add = self.staged.clone();
        let cursors = self.cursors.clone();
        let summary = self.summarize(started_at, plan, client);
        let record = CommitRecord {
            format_version: commit::COMMIT_FORMAT_VERSION,
            run_id: summary.run_id.clone(),
            add,
            remove: Vec::new(),
            cursors,
            run_record: serde_json::to_value(&summary).unwrap_or_default(),
        };
        commit::commit(&lake, &record).await?;
        Ok(summary)
    }

    fn summarize(self, started_at: DateTime<Utc>, plan: &SyncPlan, client: &GraphClient) -> RunSummary {
        let finished_at = Utc::now();
        let mut rows = BTreeMap::new();
        for table in crate::flatten::Table::ALL {
            rows.insert(table.name().to_owned(), 0);
        }
        for file in &self.staged {
            *rows.entry(file.table.clone()).or_insert(0) += file.rows as u64;
        }
        let stats = &client.stats;
        RunSummary {
            version: env!("CARGO_PKG_VERSION"),
            run_id: self.run_id,
            lake: self.lake.location.clone(),
            started_at,
            finished_at,
            duration_seconds: (finished_at - started_at).num_milliseconds() as f64 / 1000.0,
            window_start: self.window_start,
            window_end: plan.until,
            scope: self.scope,
            users: self.users,
            stopped_by: self.stopped_by,
            failed_users: self.failed,
            skipped_users: self.skipped,
            requests: stats.requests.load(Ordering::Relaxed),
            retries: stats.retries.load(Ordering::Relaxed),
            throttled: stats.throttled.load(Ordering::Relaxed),
            pages: self.pages,
            rows,
            files: self.staged.len() as u64,
            bytes: self.staged.iter().map(|file| file.bytes as u64).sum(),
            rejected_records: self.rejected,
            duplicate_records: self.duplicates,
            already_landed_records: self.already_landed,
        }
    }
}

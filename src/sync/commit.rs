//! The commit protocol. A run stages its files, then writes a commit record that lists every
//! file to publish, every file to remove and every cursor to advance. Writing that record is the
//! commit point: from then on the commit is rolled forward to the end, by this run or, after a
//! crash, by the next run before it does anything else. Every step of the roll-forward can be
//! repeated, so a crash during it is harmless. `docs/design.md` explains why each step is safe.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::state::{self, LakeState, StateError, UserCursor};
use crate::failpoint;
use crate::sink::layout::META_DIR;
use crate::sink::{self, Lake, SinkError, StagedFile};

/// The version of the commit record's format.
pub const COMMIT_FORMAT_VERSION: u32 = 1;

/// What one commit changes in the lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitRecord {
    pub format_version: u32,
    pub run_id: String,
    /// Staged files to move into the table folders.
    pub add: Vec<StagedFile>,
    /// Published files to delete, relative to the lake root (compaction replaces them).
    pub remove: Vec<String>,
    /// Per-user cursors to store once the files are published.
    pub cursors: BTreeMap<String, DateTime<Utc>>,
    /// The run record, stored under `_copilot_lake/runs/`.
    pub run_record: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "the commit record {path} on the lake at {location} is invalid ({message}); move it away only if you know the run it belongs to never published"
    )]
    Invalid { path: String, location: String, message: String },
}

fn commits_dir(lake: &Lake) -> Path {
    lake.root.join(&format!("{META_DIR}/commits"))
}

fn commit_path(lake: &Lake, run_id: &str) -> Path {
    lake.root.join(&format!("{META_DIR}/commits/{run_id}.json"))
}

fn staging_dir(lake: &Lake, run_id: &str) -> Path {
    lake.root.join(&format!("{META_DIR}/staging/{run_id}"))
}

/// Commits a run: writes its commit record, then rolls it forward.
pub async fn commit(lake: &Lake, record: &CommitRecord) -> Result<(), CommitError> {
    let path = commit_path(lake, &record.run_id);
    let json = serde_json::to_vec_pretty(record).map_err(|error| CommitError::Invalid {
        path: path.to_string(),
        location: lake.location.clone(),
        message: error.to_string(),
    })?;
    let options = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
    lake.store
        .put_opts(&path, PutPayload::from(Bytes::from(json)), options)
        .await
        .map_err(|source| lake.store_error("PUT", &path, source))?;
    failpoint::hit("commit-written");
    roll_forward(lake, record).await
}

/// Finishes a commit whose record is written: publish, remove, advance the cursors, store the
/// run record, then delete the commit record and the run's staging folder.
async fn roll_forward(lake: &Lake, record: &CommitRecord) -> Result<(), CommitError> {
    sink::publish(lake, &record.run_id, &record.add).await?;
    failpoint::hit("files-published");
    sink::remove(lake, &record.remove).await?;

    if !record.cursors.is_empty() {
        let mut state = LakeState::load(lake).await?;
        for (user_id, cursor) in &record.cursors {
            let entry = UserCursor { cursor: *cursor, run_id: record.run_id.clone() };
            state.users.insert(user_id.clone(), entry);
        }
        state.save(lake).await?;
    }
    failpoint::hit("state-saved");
    state::put_json(lake, &format!("{META_DIR}/runs/{}.json", record.run_id), &record.run_record).await?;

    let path = commit_path(lake, &record.run_id);
    match lake.store.delete(&path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(source) => return Err(lake.store_error("DELETE", &path, source).into()),
    }
    delete_prefix(lake, &staging_dir(lake, &record.run_id)).await?;
    Ok(())
}

/// Brings the lake to a committed state before a run starts: rolls forward every commit that a
/// crashed run wrote but did not finish, and deletes staged files of runs that never committed.
/// The caller holds the run lock, so no other run is staging at the same time.
pub async fn recover(lake: &Lake) -> Result<usize, CommitError> {
    let mut pending = Vec::new();
    let listed: Vec<object_store::ObjectMeta> = lake
        .store
        .list(Some(&commits_dir(lake)))
        .try_collect()
        .await
        .map_err(|source| lake.store_error("LIST", &commits_dir(lake), source))?;
    for meta in listed {
        pending.push(read_record(lake, &meta.location).await?);
    }
    pending.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    for record in &pending {
        tracing::warn!(run_id = record.run_id, files = record.add.len(), "finishing the commit of an interrupted run");
        roll_forward(lake, record).await?;
    }

    let staging = lake.root.join(&format!("{META_DIR}/staging"));
    let staged: Vec<object_store::ObjectMeta> = lake
        .store
        .list(Some(&staging))
        .try_collect()
        .await
        .map_err(|source| lake.store_error("LIST", &staging, source))?;
    let orphans: Vec<Path> = staged.into_iter().map(|meta| meta.location).collect();
    if !orphans.is_empty() {
        tracing::info!(files = orphans.len(), "deleting staged files of runs that never committed");
        delete_paths(lake, &orphans).await?;
    }
    Ok(pending.len())
}

async fn read_record(lake: &Lake, path: &Path) -> Result<CommitRecord, CommitError> {
    let bytes = lake
        .store
        .get(path)
        .await
        .map_err(|source| lake.store_error("GET", path, source))?
        .bytes()
        .await
        .map_err(|source| lake.store_error("GET", path, source))?;
    let record: CommitRecord = serde_json::from_slice(&bytes).map_err(|error| CommitError::Invalid {
        path: path.to_string(),
        location: lake.location.clone(),
        message: error.to_string(),
    })?;
    if record.format_version > COMMIT_FORMAT_VERSION {
        return Err(CommitError::Invalid {
            path: path.to_string(),
            location: lake.location.clone(),
            message: format!(
                "format_version {} is newer than this copilot-lake supports; upgrade copilot-lake",
                record.format_version
            ),
        });
    }
    Ok(record)
}

async fn delete_prefix(lake: &Lake, prefix: &Path) -> Result<(), SinkError> {
    let listed: Vec<object_store::ObjectMeta> =
        lake.store.list(Some(prefix)).try_collect().await.map_err(|source| lake.store_error("LIST", prefix, source))?;
    let paths: Vec<Path> = listed.into_iter().map(|meta| meta.location).collect();
    delete_paths(lake, &paths).await
}

async fn delete_paths(lake: &Lake, paths: &[Path]) -> Result<(), SinkError> {
    for path in paths {
        match lake.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(source) => return Err(lake.store_error("DELETE", path, source)),
        }
    }
    sink::store::remove_empty_folders(lake, &lake.root.join(META_DIR));
    Ok(())
}

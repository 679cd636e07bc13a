//! The lake's own state: per-user cursors in `_copilot_lake/state.json` and one run record per
//! committed run in `_copilot_lake/runs/<run id>.json`. Both are readable, versioned JSON.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::sink::Lake;
use crate::sink::layout::META_DIR;

/// The version of the state file's format; a reader refuses newer versions.
pub const STATE_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LakeState {
    pub format_version: u32,
    /// Per user id: the end of the last committed window.
    pub users: BTreeMap<String, UserCursor>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserCursor {
    pub cursor: DateTime<Utc>,
    pub run_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {operation} {path} on the lake at {location}: {source}")]
    Store { operation: &'static str, path: String, location: String, source: object_store::Error },
    #[error(
        "{path} on the lake at {location} is not valid state JSON: {message}; restore it from a backup or move it away to start over"
    )]
    Invalid { path: String, location: String, message: String },
}

fn state_path(lake: &Lake) -> object_store::path::Path {
    lake.root.join(&format!("{META_DIR}/state.json"))
}

impl LakeState {
    /// Reads the state, or an empty state for a new lake.
    pub async fn load(lake: &Lake) -> Result<LakeState, StateError> {
        let path = state_path(lake);
        let read_error = |source| StateError::Store {
            operation: "read",
            path: path.to_string(),
            location: lake.location.clone(),
            source,
        };
        let bytes = match lake.store.get(&path).await {
            Ok(result) => result.bytes().await.map_err(read_error)?,
            Err(object_store::Error::NotFound { .. }) => {
                return Ok(LakeState { format_version: STATE_FORMAT_VERSION, ..LakeState::default() });
            }
            Err(error) => return Err(read_error(error)),
        };
        let invalid =
            |message: String| StateError::Invalid { path: path.to_string(), location: lake.location.clone(), message };
        let state: LakeState = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if state.format_version > STATE_FORMAT_VERSION {
            return Err(invalid(format!(
                "format_version {} is newer than this copilot-lake supports ({STATE_FORMAT_VERSION}); upgrade copilot-lake",
                state.format_version
            )));
        }
        Ok(state)
    }

    pub async fn save(&self, lake: &Lake) -> Result<(), StateError> {
        put_json(lake, &format!("{META_DIR}/state.json"), self).await
    }
}

/// Writes a JSON document under the lake root. A single PUT is atomic on every object store, and
/// on the local file system `object_store` writes a temporary file and renames it.
pub async fn put_json<T: Serialize>(lake: &Lake, relative: &str, value: &T) -> Result<(), StateError> {
    let path = lake.root.join(relative);
    let json = serde_json::to_vec_pretty(value).map_err(|error| StateError::Invalid {
        path: path.to_string(),
        location: lake.location.clone(),
        message: error.to_string(),
    })?;
    lake.store.put(&path, PutPayload::from(Bytes::from(json))).await.map_err(|source| StateError::Store {
        operation: "write",
        path: path.to_string(),
        location: lake.location.clone(),
        source,
    })?;
    Ok(())
}

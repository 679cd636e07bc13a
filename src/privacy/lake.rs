//! The privacy settings a lake was written with, kept in `_copilot_lake/privacy.json`. A run
//! with other settings would mix two pseudonyms for one user, or original values with hashes,
//! so it is refused before it reads anything.

use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use super::{ContentMode, Privacy};
use crate::sink::Lake;
use crate::sink::layout::META_DIR;
use crate::sync::state::{self, LakeState, StateError};
use crate::sync::{ConfigError, SyncError};

/// The version of the settings file's format.
const SETTINGS_FORMAT_VERSION: u32 = 1;

/// The settings of the privacy controls, with keys by their fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LakeSettings {
    pub format_version: u32,
    pub content: ContentMode,
    /// The fingerprint of the `--content hash` key.
    pub content_key: Option<String>,
    /// The fingerprint of the `--pseudonymize-users` key.
    pub user_key: Option<String>,
}

impl LakeSettings {
    pub fn of(privacy: &Privacy) -> Self {
        LakeSettings {
            format_version: SETTINGS_FORMAT_VERSION,
            content: privacy.content(),
            content_key: privacy.content_key().map(|key| key.fingerprint()),
            user_key: privacy.user_key().map(|key| key.fingerprint()),
        }
    }

    fn describe(&self) -> String {
        let content = match (&self.content, &self.content_key) {
            (ContentMode::Hash, Some(key)) => {
                format!("--content hash with the key of fingerprint {key}")
            }
            (mode, _) => format!("--content {}", format!("{mode:?}").to_lowercase()),
        };
        let users = match &self.user_key {
            Some(key) => format!("--pseudonymize-users with the key of fingerprint {key}"),
            None => "no --pseudonymize-users".to_owned(),
        };
        format!("{content} and {users}")
    }
}

fn settings_path() -> String {
    format!("{META_DIR}/privacy.json")
}

/// Checks the run's privacy settings against the lake's, and records them in a lake that contains
/// no data yet. A lake with data but without the file was written before the file existed,
/// which means without privacy controls.
pub async fn check(lake: &Lake, state: &LakeState, privacy: &Privacy) -> Result<(), SyncError> {
    let current = LakeSettings::of(privacy);
    let stored = read(lake).await?;
    let holds_data = !state.users.is_empty();
    let expected = match stored {
        Some(stored) => stored,
        None if holds_data => LakeSettings::of(&Privacy::default()),
        None => {
            state::put_json(lake, &settings_path(), &current).await?;
            return Ok(());
        }
    };
    if expected == current {
        return Ok(());
    }
    if !holds_data {
        // Nothing was written under the old settings, so the new ones replace them.
        state::put_json(lake, &settings_path(), &current).await?;
        return Ok(());
    }
    Err(SyncError::Config(ConfigError(format!(
        "the lake at {} was written with {}, but this run uses {}; mixing them would give a user two ids or put original values next to hashes. Run with the lake's settings and key files, or write to a new lake",
        lake.location,
        expected.describe(),
        current.describe()
    ))))
}

async fn read(lake: &Lake) -> Result<Option<LakeSettings>, StateError> {
    let path = lake.root.join(&settings_path());
    let store_error = |source| StateError::Store {
        operation: "read",
        path: path.to_string(),
        location: lake.location.clone(),
        source,
    };
    let bytes = match lake.store.get(&path).await {
        Ok(result) => result.bytes().await.map_err(store_error)?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(store_error(error)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|error| StateError::Invalid {
        path: path.to_string(),
        location: lake.location.clone(),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::PrivacyKey;
    use crate::sync::state::UserCursor;

    fn lake(dir: &std::path::Path) -> Lake {
        crate::sink::store::open(&dir.display().to_string(), &Default::default()).expect("local lake")
    }

    fn pseudonymizing(key: &[u8]) -> Privacy {
        let key = PrivacyKey::new(key).expect("key");
        Privacy::new(ContentMode::Drop, None, Some(key)).expect("privacy")
    }

    fn with_data() -> LakeState {
        let mut state = LakeState::default();
        let cursor = UserCursor { cursor: chrono::Utc::now(), run_id: "run-1".into() };
        state.users.insert("u1".into(), cursor);
        state
    }

    const KEY_A: &[u8] = b"key-a-key-a-key-a-key-a-key-a-key-a";
    const KEY_B: &[u8] = b"key-b-key-b-key-b-key-b-key-b-key-b";

    #[tokio::test]
    async fn first_run_records_its_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = lake(dir.path());
        check(&lake, &LakeState::default(), &pseudonymizing(KEY_A)).await.expect("new lake");

        let stored = read(&lake).await.expect("read").expect("settings file");
        assert_eq!(stored, LakeSettings::of(&pseudonymizing(KEY_A)));
        assert_eq!(stored.content, ContentMode::Drop);
        assert!(check(&lake, &with_data(), &pseudonymizing(KEY_A)).await.is_ok());
    }

    #[tokio::test]
    async fn lake_without_data_takes_new_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = lake(dir.path());
        check(&lake, &LakeState::default(), &pseudonymizing(KEY_A)).await.expect("first");
        check(&lake, &LakeState::default(), &pseudonymizing(KEY_B)).await.expect("no data yet");

        let stored = read(&lake).await.expect("read").expect("settings file");
        assert_eq!(stored, LakeSettings::of(&pseudonymizing(KEY_B)));
    }

    #[tokio::test]
    async fn other_key_is_refused_once_data_landed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = lake(dir.path());
        check(&lake, &LakeState::default(), &pseudonymizing(KEY_A)).await.expect("first");

        let error = check(&lake, &with_data(), &pseudonymizing(KEY_B)).await.expect_err("other key");
        let message = error.to_string();
        let fingerprint = |key| PrivacyKey::new(key).expect("key").fingerprint();
        assert!(message.contains(&fingerprint(KEY_A)), "{message}");
        assert!(message.contains(&fingerprint(KEY_B)), "{message}");
        assert_eq!(error.exit_code(), 2);
    }

    #[tokio::test]
    async fn old_lake_with_data_is_plain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = lake(dir.path());
        assert!(check(&lake, &with_data(), &Privacy::default()).await.is_ok());

        let error = check(&lake, &with_data(), &pseudonymizing(KEY_A)).await.expect_err("plain lake");
        assert!(error.to_string().contains("written with --content keep and no --pseudonymize-users"), "{error}");
    }
}

//! The run lock: one writer per lake at a time, as a lease in `_copilot_lake/lock.json`.
//!
//! The lock is taken with a conditional create (`PutMode::Create`). Its holder renews the lease
//! while it runs; a lease whose holder died expires, and the next run takes it over with a
//! conditional update (`PutMode::Update`) on the expired version, so two runs cannot both take it.
//! Stores without conditional updates (the local file system) take over by delete and create.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::sink::Lake;
use crate::sink::layout::META_DIR;

/// The lease's content: who holds it and until when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lease {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another copilot-lake run ({run_id} on {host}, pid {pid}) holds the lock of the lake at {location} until {expires_at}; wait for it to finish, or pass --wait-for-lock"
    )]
    Held { run_id: String, host: String, pid: u32, expires_at: DateTime<Utc>, location: String },
    #[error("the lock of the lake at {location} was taken over by run {by}; this run stops without committing")]
    Lost { location: String, by: String },
    #[error("{operation} of the lock {path} failed on the lake at {location}: {source}")]
    Store { operation: &'static str, path: String, location: String, source: object_store::Error },
    #[error("the lock {path} on the lake at {location} is not valid JSON ({message}); if no run is active, delete it")]
    Invalid { path: String, location: String, message: String },
}

/// A held lock. Renew it at least every `ttl / 3`; release it when the run ends.
pub struct RunLock {
    lake: Lake,
    path: Path,
    lease: Lease,
    version: Option<UpdateVersion>,
    ttl: Duration,
}

enum Attempt {
    Acquired(RunLock),
    Held(Lease),
}

impl RunLock {
    /// Takes the lock, failing at once when a live run holds it, or waiting up to `wait` for it.
    pub async fn acquire(lake: &Lake, run_id: &str, ttl: Duration, wait: Duration) -> Result<RunLock, LockError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match try_acquire(lake, run_id, ttl).await? {
                Attempt::Acquired(lock) => return Ok(lock),
                Attempt::Held(lease) => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        return Err(LockError::Held {
                            run_id: lease.run_id,
                            host: lease.host,
                            pid: lease.pid,
                            expires_at: lease.expires_at,
                            location: lake.location.clone(),
                        });
                    }
                    tracing::info!(holder = lease.run_id, expires_at = %lease.expires_at, "waiting for the lake's lock");
                    tokio::time::sleep(Duration::from_secs(2).min(deadline - now)).await;
                }
            }
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Extends the lease. Fails with `Lost` when another run has taken the lock over, which
    /// happens only when this run stalled for longer than the lease.
    pub async fn renew(&mut self) -> Result<(), LockError> {
        let mut lease = self.lease.clone();
        lease.expires_at = expiry(self.ttl);
        if let Some(version) = self.version.clone() {
            match put(&self.lake, &self.path, &lease, PutMode::Update(version)).await {
                Ok(version) => {
                    self.version = Some(version);
                    self.lease = lease;
                    return Ok(());
                }
                Err(object_store::Error::Precondition { .. }) => return Err(self.lost().await),
                // The local file system returns etags but cannot update conditionally.
                Err(object_store::Error::NotImplemented { .. }) => self.version = None,
                Err(source) => return Err(self.store_error("renewal", source)),
            }
        }

        // Without conditional updates: check the holder, then overwrite.
        self.check().await?;
        put(&self.lake, &self.path, &lease, PutMode::Overwrite)
            .await
            .map_err(|source| self.store_error("renewal", source))?;
        self.lease = lease;
        Ok(())
    }

    /// Confirms the lock is still this run's before a commit step.
    pub async fn check(&self) -> Result<(), LockError> {
        let (current, _) = read(&self.lake, &self.path).await?;
        match current {
            Some(lease) if lease.run_id == self.lease.run_id => Ok(()),
            _ => Err(self.lost().await),
        }
    }

    /// Removes the lock if it is still this run's.
    pub async fn release(self) -> Result<(), LockError> {
        if self.check().await.is_ok() {
            self.lake.store.delete(&self.path).await.map_err(|source| self.store_error("release", source))?;
        }
        Ok(())
    }

    async fn lost(&self) -> LockError {
        let by = match read(&self.lake, &self.path).await {
            Ok((Some(lease), _)) => lease.run_id,
            _ => "none (the lock was deleted)".into(),
        };
        LockError::Lost { location: self.lake.location.clone(), by }
    }

    fn store_error(&self, operation: &'static str, source: object_store::Error) -> LockError {
        LockError::Store { operation, path: self.path.to_string(), location: self.lake.location.clone(), source }
    }
}

fn lock_path(lake: &Lake) -> Path {
    lake.root.join(&format!("{META_DIR}/lock.json"))
}

fn expiry(ttl: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(10))
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// True when the holder ran on this host and its process is gone, so a cron job that was
/// killed does not block the next one for a whole lease. Linux only; elsewhere leases expire.
fn holder_died(lease: &Lease) -> bool {
    cfg!(target_os = "linux")
        && lease.host == host_name()
        && lease.pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{}", lease.pid)).exists()
}

fn new_lease(run_id: &str, ttl: Duration) -> Lease {
    Lease {
        run_id: run_id.to_owned(),
        host: host_name(),
        pid: std::process::id(),
        acquired_at: Utc::now(),
        expires_at: expiry(ttl),
    }
}

async fn try_acquire(lake: &Lake, run_id: &str, ttl: Duration) -> Result<Attempt, LockError> {
    let path = lock_path(lake);
    let store_error = |operation, source| LockError::Store {
        operation,
        path: path.to_string(),
        location: lake.location.clone(),
        source,
    };
    let lease = new_lease(run_id, ttl);
    match put(lake, &path, &lease, PutMode::Create).await {
        Ok(version) => return Ok(Attempt::Acquired(locked(lake, path, lease, version, ttl))),
        Err(object_store::Error::AlreadyExists { .. }) => {}
        Err(source) => return Err(store_error("creation", source)),
    }

    let (current, version) = read(lake, &path).await?;
    let Some(current) = current else {
        // Released between our create and read: try again at once.
        return Box::pin(try_acquire(lake, run_id, ttl)).await;
    };
    if current.expires_at > Utc::now() && !holder_died(&current) {
        return Ok(Attempt::Held(current));
    }

    tracing::warn!(holder = current.run_id, expires_at = %current.expires_at, "taking over the lock of a run that is gone");
    match put(lake, &path, &lease, PutMode::Update(version)).await {
        Ok(version) => Ok(Attempt::Acquired(locked(lake, path, lease, version, ttl))),
        Err(object_store::Error::Precondition { .. }) => match read(lake, &path).await? {
            (Some(winner), _) => Ok(Attempt::Held(winner)),
            (None, _) => Box::pin(try_acquire(lake, run_id, ttl)).await,
        },
        Err(object_store::Error::NotImplemented { .. }) => {
            // NOTE: without conditional updates two runs that find the same expired lease at
            // the same instant can both delete it; the create below then lets only one win,
            // unless the second delete removes the first winner's fresh lock.
            lake.store.delete(&path).await.map_err(|source| store_error("takeover", source))?;
            match put(lake, &path, &lease, PutMode::Create).await {
                Ok(version) => Ok(Attempt::Acquired(locked(lake, path, lease, version, ttl))),
                Err(object_store::Error::AlreadyExists { .. }) => match read(lake, &path).await? {
                    (Some(winner), _) => Ok(Attempt::Held(winner)),
                    (None, _) => Box::pin(try_acquire(lake, run_id, ttl)).await,
                },
                Err(source) => Err(store_error("takeover", source)),
            }
        }
        Err(source) => Err(store_error("takeover", source)),
    }
}

fn locked(lake: &Lake, path: Path, lease: Lease, version: UpdateVersion, ttl: Duration) -> RunLock {
    // Stores that return neither an etag nor a version cannot update conditionally.
    let version = (version.e_tag.is_some() || version.version.is_some()).then_some(version);
    RunLock { lake: lake.clone(), path, lease, version, ttl }
}

async fn put(lake: &Lake, path: &Path, lease: &Lease, mode: PutMode) -> Result<UpdateVersion, object_store::Error> {
    let json = serde_json::to_vec_pretty(lease).unwrap_or_default();
    let options = PutOptions { mode, ..PutOptions::default() };
    let result = lake.store.put_opts(path, PutPayload::from(Bytes::from(json)), options).await?;
    Ok(UpdateVersion::from(result))
}

/// Reads the lease and its version; `None` when there is no lock.
async fn read(lake: &Lake, path: &Path) -> Result<(Option<Lease>, UpdateVersion), LockError> {
    let store_error = |source| LockError::Store {
        operation: "read",
        path: path.to_string(),
        location: lake.location.clone(),
        source,
    };
    let result = match lake.store.get(path).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => {
            return Ok((None, UpdateVersion { e_tag: None, version: None }));
        }
        Err(source) => return Err(store_error(source)),
    };
    let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
    let bytes = result.bytes().await.map_err(store_error)?;
    let lease = serde_json::from_slice(&bytes).map_err(|error| LockError::Invalid {
        path: path.to_string(),
        location: lake.location.clone(),
        message: error.to_string(),
    })?;
    Ok((Some(lease), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lake() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = crate::sink::store::open(dir.path().to_str().expect("utf-8"), &Default::default()).expect("lake");
        (dir, lake)
    }

    #[tokio::test]
    async fn second_run_is_refused() {
        let (_dir, lake) = lake();
        let ttl = Duration::from_secs(60);
        let first = RunLock::acquire(&lake, "run-a", ttl, Duration::ZERO).await.expect("first lock");

        let error = RunLock::acquire(&lake, "run-b", ttl, Duration::ZERO).await.err().expect("held");
        let message = error.to_string();
        assert!(message.contains("run-a"), "{message}");
        assert!(message.contains("--wait-for-lock"), "{message}");

        first.release().await.expect("release");
        let second = RunLock::acquire(&lake, "run-b", ttl, Duration::ZERO).await.expect("free again");
        second.check().await.expect("held by run-b");
    }

    #[tokio::test]
    async fn expired_lease_is_taken_over() {
        let (_dir, lake) = lake();
        let dead = RunLock::acquire(&lake, "run-dead", Duration::from_millis(10), Duration::ZERO).await.expect("lock");
        tokio::time::sleep(Duration::from_millis(30)).await;

        let live =
            RunLock::acquire(&lake, "run-live", Duration::from_secs(60), Duration::ZERO).await.expect("takeover");
        live.check().await.expect("held by run-live");
        assert!(matches!(dead.check().await, Err(LockError::Lost { .. })));
    }

    #[tokio::test]
    async fn renewal_extends_the_lease() {
        let (_dir, lake) = lake();
        let mut lock = RunLock::acquire(&lake, "run-a", Duration::from_secs(60), Duration::ZERO).await.expect("lock");
        let before = lock.lease.expires_at;
        tokio::time::sleep(Duration::from_millis(5)).await;
        lock.renew().await.expect("renew");
        let (stored, _) = read(&lake, &lock_path(&lake)).await.expect("read");
        assert!(stored.expect("lease").expires_at > before);
    }
}

//! The run summary: what a run read, wrote and failed at. Written to `--summary` and stored in the
//! lake as the run record.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::graph::UserOutcome;

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub version: &'static str,
    pub run_id: String,
    pub lake: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_seconds: f64,
    /// The earliest start and latest end of the users' windows.
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: DateTime<Utc>,
    pub scope: String,
    /// The signal that stopped the run early; users it did not start are `users.not_started`.
    pub stopped_by: Option<super::signals::StopSignal>,
    pub users: UserCounts,
    /// Users whose window was not landed because of faults; a rerun reads them again.
    pub failed_users: Vec<FailedUser>,
    /// Users without a Copilot license or without a mailbox: nothing to land.
    pub skipped_users: Vec<FailedUser>,
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub pages: u64,
    pub rows: BTreeMap<String, u64>,
    pub files: u64,
    pub bytes: u64,
    pub rejected_records: u64,
    pub duplicate_records: u64,
    /// Records skipped because an earlier run already landed their key (lookback, reruns).
    pub already_landed_records: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UserCounts {
    pub total: u64,
    pub ok: u64,
    pub not_licensed: u64,
    pub not_found: u64,
    pub failed: u64,
    /// Users planned but not read because a stop signal came first.
    pub not_started: u64,
}

impl UserCounts {
    pub fn count(&mut self, outcome: UserOutcome) {
        self.total += 1;
        match outcome {
            UserOutcome::Ok => self.ok += 1,
            UserOutcome::NotLicensed => self.not_licensed += 1,
            UserOutcome::NotFound => self.not_found += 1,
            UserOutcome::Failed => self.failed += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedUser {
    pub user_id: String,
    pub outcome: UserOutcome,
    pub error: String,
}

//! Late records: a share of records that Graph returns only some time after their
//! `createdDateTime`, as happens when a mailbox write lags. A scheduled sync must catch them
//! with its lookback.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::dataset::SimRecord;

/// The simulated "now" that decides which late records are visible. Tests move it forward
/// between runs to play a schedule; `None` means the wall clock.
#[derive(Debug, Clone, Default)]
pub struct SimClock(Arc<Mutex<Option<DateTime<Utc>>>>);

impl SimClock {
    pub fn set(&self, now: DateTime<Utc>) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some(now);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.0.lock().ok().and_then(|guard| *guard).unwrap_or_else(Utc::now)
    }
}

/// Which records arrive late, and by how much.
#[derive(Debug, Clone)]
pub struct LateRecords {
    /// The share of records that arrive late, from 0 to 1, chosen by a hash of the record's id
    /// and session, so the choice repeats across runs and processes.
    pub share: f64,
    /// How long after `createdDateTime` a late record appears.
    pub delay: Duration,
    pub clock: SimClock,
}

impl LateRecords {
    pub fn is_late(&self, record: &SimRecord) -> bool {
        let mut hasher = DefaultHasher::new();
        record.json["id"].as_str().hash(&mut hasher);
        record.json["sessionId"].as_str().hash(&mut hasher);
        let unit = (hasher.finish() % 10_000) as f64 / 10_000.0;
        unit < self.share
    }

    /// Returns the instant the record first appears in responses.
    pub fn visible_at(&self, record: &SimRecord) -> DateTime<Utc> {
        if self.is_late(record) { record.created + self.delay } else { record.created }
    }

    pub fn is_visible(&self, record: &SimRecord) -> bool {
        self.visible_at(record) <= self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, created: &str) -> SimRecord {
        SimRecord {
            created: DateTime::parse_from_rfc3339(created).expect("time").to_utc(),
            app_class: "IPM.SkypeTeams.Message.Copilot.Word".into(),
            json: json!({ "id": id, "sessionId": "s" }),
        }
    }

    #[test]
    fn share_picks_about_that_many() {
        let late = LateRecords { share: 0.25, delay: Duration::hours(2), clock: SimClock::default() };
        let count = (0..4000).filter(|i| late.is_late(&record(&i.to_string(), "2026-11-01T00:00:00Z"))).count();
        assert!((800..1200).contains(&count), "{count} of 4000");
    }

    #[test]
    fn late_record_appears_after_delay() {
        let clock = SimClock::default();
        let late = LateRecords { share: 1.0, delay: Duration::hours(2), clock: clock.clone() };
        let record = record("1", "2026-11-01T10:00:00Z");
        clock.set(DateTime::parse_from_rfc3339("2026-11-01T11:59:59Z").expect("time").to_utc());
        assert!(!late.is_visible(&record));
        clock.set(DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z").expect("time").to_utc());
        assert!(late.is_visible(&record));
    }
}

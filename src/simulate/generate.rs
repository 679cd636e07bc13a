//! Deterministic generation of a tenant: users, and Copilot histories with the quirks that
//! exported histories show (shared meeting sessions, duplicated turns, warm-up responses,
//! devices given as strings, varying timestamp precision).
//!
//! A sequential planner decides every session's app, holders and turn times, so that each
//! history stays near its target. The records themselves are then built in parallel, one
//! session at a time, because building the JSON is most of the work.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::content::{self, AppKind};
use super::dataset::{Dataset, GenerateOptions, SimRecord, SimUser, TENANT_DOMAIN};
use super::session::{SessionPlan, Tenant, TurnPlan, build_session, guid, pick};

/// A window shorter than this gets no records, because a turn takes up to 30 s and must end
/// 10 s before the window does.
const MIN_SPAN_MS: i64 = 60_000;

pub(super) fn generate(options: &GenerateOptions) -> Dataset {
    let mut planner = Planner::new(options);
    planner.create_users();
    if (options.end - options.start).num_milliseconds() >= MIN_SPAN_MS {
        for owner in 0..planner.licensed.len() {
            planner.plan_history(owner);
        }
    }
    planner.finish()
}

struct Planner<'a> {
    options: &'a GenerateOptions,
    rng: StdRng,
    tenant_id: String,
    users: Vec<SimUser>,
    /// The name that mentions of each user show, parallel to `users`.
    mention_names: Vec<String>,
    /// Indexes into `users` of the licensed users.
    licensed: Vec<usize>,
    /// The number of records planned for each licensed user, parallel to `licensed`.
    planned: Vec<usize>,
    sessions: Vec<SessionPlan>,
}

impl<'a> Planner<'a> {
    fn new(options: &'a GenerateOptions) -> Self {
        let mut rng = StdRng::seed_from_u64(options.seed);
        let tenant_id = guid(&mut rng);
        Planner {
            options,
            rng,
            tenant_id,
            users: Vec::new(),
            mention_names: Vec::new(),
            licensed: Vec::new(),
            planned: Vec::new(),
            sessions: Vec::new(),
        }
    }

    fn create_users(&mut self) {
        let total = self.options.users + self.options.unlicensed_users;
        let mut licenses: Vec<bool> = (0..total).map(|index| index < self.options.users).collect();
        licenses.shuffle(&mut self.rng);
        let mut taken_upns = HashSet::new();

        for (index, licensed) in licenses.into_iter().enumerate() {
            let (display_name, mention_name, local_part) = self.pick_name(index);
            let user_principal_name = unique_upn(&mut taken_upns, &local_part);
            if licensed {
                self.licensed.push(self.users.len());
                self.planned.push(0);
            }
            self.mention_names.push(mention_name);
            self.users.push(SimUser { id: guid(&mut self.rng), user_principal_name, display_name, licensed });
        }
    }

    /// Returns the display name, the name mentions show, and the ASCII local part of the UPN.
    fn pick_name(&mut self, index: usize) -> (String, String, String) {
        if let Some((display, ascii)) = content::FEATURED_NAMES.get(index) {
            let mention = display.split(' ').next().unwrap_or(display);
            return ((*display).to_owned(), mention.to_owned(), (*ascii).to_owned());
        }
        if self.rng.random_bool(0.1) {
            let (display, ascii) = pick(&mut self.rng, &content::WHOLE_NAMES);
            return (display.to_owned(), display.to_owned(), ascii.to_owned());
        }
        let given_name = pick(&mut self.rng, &content::GIVEN_NAMES);
        let family_name = pick(&mut self.rng, &content::FAMILY_NAMES);
        let display = format!("{} {}", given_name.display, family_name.display);
        let local_part = format!("{}.{}", given_name.ascii, family_name.ascii);
        (display, given_name.display.to_owned(), local_part)
    }

    fn plan_history(&mut self, owner: usize) {
        let target = self.options.interactions_per_user;
        // Bounds the loop for windows where most sessions do not fit.
        let mut attempts_left = target * 4 + 16;
        while self.planned[owner] < target && attempts_left > 0 {
            attempts_left -= 1;
            self.plan_session(owner);
        }
    }

    fn plan_session(&mut self, owner: usize) {
        let app = content::APPS.choose_weighted(&mut self.rng, |app| app.weight).unwrap_or(&content::APPS[0]);
        let meeting = app.kind == AppKind::Teams && self.rng.random_bool(0.4);
        let holders = if meeting { self.meeting_participants(owner) } else { vec![owner] };
        let seed = self.rng.random();

        let mut turns = Vec::new();
        let mut owner_records = self.planned[owner];
        let mut at = self.random_session_start();
        for _ in 0..self.rng.random_range(1..=4) {
            if owner_records >= self.options.interactions_per_user {
                break;
            }
            let Some((turn, last)) = self.plan_turn(at) else {
                break;
            };
            owner_records += turn.record_count();
            turns.push(turn);
            at = last + Duration::milliseconds(self.rng.random_range(20_000..600_000));
        }

        let records: usize = turns.iter().map(TurnPlan::record_count).sum();
        for &holder in &holders {
            self.planned[holder] += records;
        }
        if !turns.is_empty() {
            self.sessions.push(SessionPlan { app, meeting, holders, seed, turns });
        }
    }

    /// Returns the owner and one to three other licensed users who still have room in their
    /// histories, so that shared meetings do not push anyone far past the target.
    fn meeting_participants(&mut self, owner: usize) -> Vec<usize> {
        let target = self.options.interactions_per_user;
        let candidates: Vec<usize> =
            (0..self.licensed.len()).filter(|&other| other != owner && self.planned[other] + 2 <= target).collect();
        let count = self.rng.random_range(1..=3);
        let mut holders = vec![owner];
        holders.extend(candidates.choose_multiple(&mut self.rng, count).copied());
        holders
    }

    /// Plans one turn starting at `prompt_at` and returns it with the time of its last record,
    /// or `None` when the turn would end after the window.
    fn plan_turn(&mut self, prompt_at: DateTime<Utc>) -> Option<(TurnPlan, DateTime<Utc>)> {
        let response_at = prompt_at + Duration::milliseconds(self.rng.random_range(300..20_000));
        // 10 s of room covers the duplicate (1 s later) and a second response (at most 9 s later).
        if response_at >= self.options.end - Duration::seconds(10) {
            return None;
        }
        if self.rng.random_bool(0.02) {
            return Some((TurnPlan::WarmUp { at: prompt_at }, prompt_at));
        }
        let duplicated = self.rng.random_bool(0.02);
        let mut last = if duplicated { response_at + Duration::seconds(1) } else { response_at };
        let extra_response_at = self.rng.random_bool(0.03).then(|| {
            last += Duration::milliseconds(self.rng.random_range(2_000..8_000));
            last
        });
        Some((TurnPlan::Exchange { prompt_at, response_at, duplicated, extra_response_at }, last))
    }

    fn random_session_start(&mut self) -> DateTime<Utc> {
        let span_ms = (self.options.end - self.options.start).num_milliseconds();
        let offset = self.rng.random_range(0..span_ms.max(1));
        let sub_millisecond_nanos = self.rng.random_range(0..1_000_000);
        self.options.start + Duration::milliseconds(offset) + Duration::nanoseconds(sub_millisecond_nanos)
    }

    /// Builds every planned session, in parallel, and files the records in their holders'
    /// histories. The result does not depend on the number of threads, because each session
    /// has its own seed and rayon keeps the sessions in order.
    fn finish(self) -> Dataset {
        let tenant = Tenant {
            tenant_id: &self.tenant_id,
            users: &self.users,
            mention_names: &self.mention_names,
            licensed: &self.licensed,
        };
        let built: Vec<Vec<SimRecord>> = self.sessions.par_iter().map(|plan| build_session(plan, &tenant)).collect();

        let mut histories: Vec<Vec<SimRecord>> = self.planned.iter().map(|&count| Vec::with_capacity(count)).collect();
        for (plan, records) in self.sessions.iter().zip(built) {
            let (last, others) = plan.holders.split_last().unwrap_or((&0, &[]));
            for &holder in others {
                histories[holder].extend(records.iter().cloned());
            }
            histories[*last].extend(records);
        }

        let mut records = BTreeMap::new();
        for (position, mut history) in histories.into_iter().enumerate() {
            history.sort_by_key(|record| record.created);
            records.insert(self.users[self.licensed[position]].id.clone(), history);
        }
        Dataset { users: self.users, records, raw_pages: BTreeMap::new() }
    }
}

fn unique_upn(taken_upns: &mut HashSet<String>, local_part: &str) -> String {
    let mut candidate = format!("{local_part}@{TENANT_DOMAIN}");
    let mut suffix = 2;
    while !taken_upns.insert(candidate.clone()) {
        candidate = format!("{local_part}{suffix}@{TENANT_DOMAIN}");
        suffix += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashMap;

    fn small_options(seed: u64) -> GenerateOptions {
        GenerateOptions { seed, users: 8, unlicensed_users: 2, interactions_per_user: 60, ..GenerateOptions::default() }
    }

    #[test]
    fn generation_is_deterministic() {
        let first = Dataset::generate(&small_options(7));
        let second = Dataset::generate(&small_options(7));
        assert_eq!(first, second);
    }

    #[test]
    fn generation_ignores_thread_count() {
        let single = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
        let sequential = single.install(|| Dataset::generate(&small_options(7)));
        let parallel = rayon::ThreadPoolBuilder::new().num_threads(4).build().expect("thread pool");
        assert_eq!(parallel.install(|| Dataset::generate(&small_options(7))), sequential);
    }

    #[test]
    fn generation_differs_across_seeds() {
        let first = Dataset::generate(&small_options(7));
        let second = Dataset::generate(&small_options(8));
        assert_ne!(first.users[0].id, second.users[0].id);
        assert_ne!(first.records, second.records);
    }

    #[test]
    fn user_counts_follow_options() {
        let dataset = Dataset::generate(&small_options(1));
        assert_eq!(dataset.users.len(), 10);
        assert_eq!(dataset.licensed_users().count(), 8);
        assert_eq!(dataset.records.len(), 8);
        for user in dataset.users.iter().filter(|user| !user.licensed) {
            assert!(!dataset.records.contains_key(&user.id), "unlicensed user has records");
        }
        let upns: HashSet<_> = dataset.users.iter().map(|user| &user.user_principal_name).collect();
        assert_eq!(upns.len(), 10, "UPNs are unique");
        assert!(dataset.users.iter().any(|user| user.display_name == "Zoë Müller"));
        assert!(dataset.users.iter().all(|user| user.id.len() == 36 && user.id.matches('-').count() == 4));
    }

    #[test]
    fn histories_are_near_target_and_in_window() {
        let options = small_options(3);
        let dataset = Dataset::generate(&options);
        for (user, history) in &dataset.records {
            assert!(history.len() >= 60, "{user}: {}", history.len());
            assert!(history.len() <= 70, "{user}: {}", history.len());
            assert!(history.windows(2).all(|pair| pair[0].created <= pair[1].created), "sorted");
            assert!(history.iter().all(|record| record.created >= options.start && record.created < options.end));
        }
    }

    #[test]
    fn records_match_their_fields() {
        let dataset = Dataset::generate(&small_options(5));
        for record in dataset.records.values().flatten() {
            let json = &record.json;
            let text = json["createdDateTime"].as_str().expect("createdDateTime");
            let parsed = DateTime::parse_from_rfc3339(text).expect("RFC 3339").to_utc();
            assert_eq!(parsed, record.created, "{text}");
            let fraction = text.split('.').nth(1).map_or(0, |part| part.len() - 1);
            assert!(fraction <= 7, "{text}");
            assert_eq!(json["id"], record.created.timestamp_millis().to_string());
            assert_eq!(json["etag"], json["id"]);
            assert_eq!(json["appClass"], record.app_class.as_str());
            let conversation = if record.app_class.ends_with("BizChat") || record.app_class.ends_with("WebChat") {
                "bizchat"
            } else {
                "appchat"
            };
            assert_eq!(json["conversationType"], conversation, "{}", record.app_class);
        }
    }

    #[test]
    fn natural_keys_are_unique_per_user() {
        let dataset = Dataset::generate(&small_options(9));
        for (user, history) in &dataset.records {
            let keys: HashSet<_> = history
                .iter()
                .map(|record| (record.json["sessionId"].to_string(), record.json["id"].to_string()))
                .collect();
            assert_eq!(keys.len(), history.len(), "duplicate (sessionId, id) for {user}");
        }
    }

    #[test]
    fn meeting_sessions_are_shared() {
        let dataset = Dataset::generate(&small_options(11));
        let mut holders: HashMap<String, HashSet<&str>> = HashMap::new();
        for (user, history) in &dataset.records {
            for record in history.iter().filter(|record| record.json["contexts"].to_string().contains("TeamsMeeting")) {
                let session = record.json["sessionId"].as_str().expect("sessionId").to_owned();
                holders.entry(session).or_default().insert(user);
            }
        }
        assert!(!holders.is_empty(), "no meeting sessions");
        assert!(holders.values().any(|users| users.len() >= 2), "no meeting session is shared");
        assert!(holders.values().all(|users| users.len() <= 4));
    }

    #[test]
    fn quirks_occur_at_defaults() {
        let dataset = Dataset::generate(&GenerateOptions::default());
        let all: Vec<&Value> = dataset.records.values().flatten().map(|record| &record.json).collect();
        let count = |check: &dyn Fn(&Value) -> bool| all.iter().filter(|json| check(json)).count();
        assert!(count(&|json| json["from"]["device"].is_string()) > 0, "string devices");
        assert!(count(&|json| json["from"]["device"].is_object()) > 0, "object devices");
        assert!(count(&|json| json["body"]["content"] == r#"{"IsWarmupRequest":"true"}"#) > 0, "warm-up");
        assert!(
            count(&|json| json["body"]["content"].as_str().is_some_and(|text| text.contains("&lt;attachment"))) > 0,
            "escaped marker"
        );
        assert!(count(&|json| json["mentions"].as_array().is_some_and(|list| !list.is_empty())) > 0, "mentions");
        assert!(
            count(&|json| json["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive") > 0,
            "cards"
        );
        assert!(
            count(&|json| json["links"]
                .as_array()
                .is_some_and(|links| links.iter().any(|link| link["displayName"].is_null())))
                > 0,
            "null link names"
        );
        let apps: HashSet<&str> = dataset.records.values().flatten().map(|record| record.app_class.as_str()).collect();
        assert!(apps.len() >= 12, "{apps:?}");
    }

    #[test]
    fn default_size_is_about_100_kilobytes() {
        let dataset = Dataset::generate(&GenerateOptions::default());
        let bytes: usize = dataset.records.values().flatten().map(|record| record.json.to_string().len()).sum();
        let per_user = bytes / dataset.records.len();
        assert!(per_user > 50_000, "{per_user} bytes per user");
        assert!(per_user < 200_000, "{per_user} bytes per user");
    }

    #[test]
    fn tiny_window_has_no_records() {
        let start = GenerateOptions::default().start;
        let options = GenerateOptions { end: start + Duration::seconds(5), ..GenerateOptions::default() };
        let dataset = Dataset::generate(&options);
        assert_eq!(dataset.licensed_users().count(), 36);
        assert!(dataset.records.values().all(Vec::is_empty));
    }
}

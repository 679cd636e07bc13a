//! Deterministic generation of a tenant: users, and Copilot histories with the quirks that
//! exported histories show (shared meeting sessions, duplicated turns, warm-up responses,
//! devices given as strings, varying timestamp precision).

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::content::{self, AppKind, CopilotApp};
use super::dataset::{Dataset, GenerateOptions, SimRecord, SimUser, TENANT_DOMAIN};
use super::records::{self, RecordHeader, RecordParts};

/// A window shorter than this gets no records, because a turn needs up to 21 s.
const MIN_SPAN_MS: i64 = 60_000;

pub(super) fn generate(options: &GenerateOptions) -> Dataset {
    let mut generator = Generator::new(options);
    generator.create_users();
    if (options.end - options.start).num_milliseconds() >= MIN_SPAN_MS {
        for owner in 0..generator.licensed.len() {
            generator.fill_history(owner);
        }
    }
    generator.finish()
}

struct Generator<'a> {
    options: &'a GenerateOptions,
    rng: StdRng,
    tenant_id: String,
    users: Vec<SimUser>,
    /// The name that mentions of each user show, parallel to `users`.
    mention_names: Vec<String>,
    /// Indexes into `users` of the licensed users.
    licensed: Vec<usize>,
    /// Histories parallel to `licensed`.
    histories: Vec<Vec<SimRecord>>,
}

/// What the records of one session share.
struct Session {
    session_id: String,
    app: &'static CopilotApp,
    locale: &'static str,
    /// The meeting of a Teams meeting session.
    meeting: Option<Meeting>,
    /// The file a document app works on.
    file: &'static str,
    /// Positions in `licensed` of the users whose histories hold the session; the first one
    /// wrote the prompts.
    holders: Vec<usize>,
    /// `createdDateTime` in epoch milliseconds of the session's latest record, so ids stay
    /// unique within the session.
    last_millis: i64,
}

struct Meeting {
    thread_id: String,
}

/// A timestamp as a record carries it.
struct Stamp {
    created: DateTime<Utc>,
    millis: i64,
    text: String,
}

impl<'a> Generator<'a> {
    fn new(options: &'a GenerateOptions) -> Self {
        let mut rng = StdRng::seed_from_u64(options.seed);
        let tenant_id = guid(&mut rng);
        Generator {
            options,
            rng,
            tenant_id,
            users: Vec::new(),
            mention_names: Vec::new(),
            licensed: Vec::new(),
            histories: Vec::new(),
        }
    }

    fn create_users(&mut self) {
        let total = self.options.users + self.options.unlicensed_users;
        let mut licenses: Vec<bool> = (0..total).map(|index| index < self.options.users).collect();
        licenses.shuffle(&mut self.rng);
        let mut taken = HashSet::new();

        for (index, licensed) in licenses.into_iter().enumerate() {
            let (display_name, mention_name, local_part) = self.pick_name(index);
            let user_principal_name = unique_upn(&mut taken, &local_part);
            if licensed {
                self.licensed.push(self.users.len());
                self.histories.push(Vec::new());
            }
            self.mention_names.push(mention_name);
            self.users.push(SimUser {
                id: guid(&mut self.rng),
                user_principal_name,
                display_name,
                licensed,
            });
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
        let given = pick(&mut self.rng, &content::GIVEN_NAMES);
        let family = pick(&mut self.rng, &content::FAMILY_NAMES);
        let display = format!("{} {}", given.display, family.display);
        (display, given.display.to_owned(), format!("{}.{}", given.ascii, family.ascii))
    }

    fn fill_history(&mut self, owner: usize) {
        let target = self.options.interactions_per_user;
        // Bounds the loop for windows where most sessions do not fit.
        let mut attempts_left = target * 4 + 16;
        while self.histories[owner].len() < target && attempts_left > 0 {
            attempts_left -= 1;
            self.add_session(owner);
        }
    }

    fn add_session(&mut self, owner: usize) {
        let app = pick_weighted_app(&mut self.rng);
        let meeting = (app.kind == AppKind::Teams && self.rng.random_bool(0.4)).then(|| Meeting {
            thread_id: meeting_thread_id(&mut self.rng),
        });
        let holders = match meeting {
            Some(_) => self.meeting_participants(owner),
            None => vec![owner],
        };
        let mut session = Session {
            session_id: session_thread_id(&mut self.rng),
            app,
            locale: self.pick_locale(),
            meeting,
            file: pick(&mut self.rng, &content::FILE_NAMES),
            holders,
            last_millis: i64::MIN,
        };

        let turns = self.rng.random_range(1..=4);
        let mut at = self.random_session_start();
        for _ in 0..turns {
            if self.histories[owner].len() >= self.options.interactions_per_user {
                break;
            }
            let Some(last) = self.add_turn(&mut session, at) else {
                break;
            };
            at = last + Duration::milliseconds(self.rng.random_range(20_000..600_000));
        }
    }

    /// Returns the owner and one to three other licensed users who still have room in their
    /// histories, so that shared meetings do not push anyone far past the target.
    fn meeting_participants(&mut self, owner: usize) -> Vec<usize> {
        let target = self.options.interactions_per_user;
        let candidates: Vec<usize> = (0..self.licensed.len())
            .filter(|&other| other != owner && self.histories[other].len() + 2 <= target)
            .collect();
        let count = self.rng.random_range(1..=3);
        let mut holders = vec![owner];
        holders.extend(candidates.choose_multiple(&mut self.rng, count).copied());
        holders
    }

    /// Adds one turn starting at `prompt_at` and returns the time of its last record, or `None`
    /// when the turn would end after the window.
    fn add_turn(&mut self, session: &mut Session, prompt_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let response_at = prompt_at + Duration::milliseconds(self.rng.random_range(300..20_000));
        if response_at >= self.options.end - Duration::seconds(10) {
            return None;
        }
        let request_id = guid(&mut self.rng);

        if self.rng.random_bool(0.02) {
            let warm_up = self.response(session, &request_id, prompt_at, Some(r#"{"IsWarmupRequest":"true"}"#));
            self.store(session, warm_up);
            return Some(prompt_at);
        }

        let prompt = self.prompt(session, &request_id, prompt_at);
        let response = self.response(session, &request_id, response_at, None);
        let mut last = response_at;
        let duplicate = self.rng.random_bool(0.02);
        if duplicate {
            // The API sometimes returns a turn twice, a second later, with new ids.
            let copies = [
                restamped(&prompt, self.stamp(session, prompt_at + Duration::seconds(1))),
                restamped(&response, self.stamp(session, response_at + Duration::seconds(1))),
            ];
            self.store(session, prompt);
            self.store(session, response);
            copies.into_iter().for_each(|copy| self.store(session, copy));
            last = response_at + Duration::seconds(1);
        } else {
            self.store(session, prompt);
            self.store(session, response);
        }

        if self.rng.random_bool(0.03) {
            // One prompt can have several responses.
            let again = last + Duration::milliseconds(self.rng.random_range(2_000..8_000));
            let extra = self.response(session, &request_id, again, None);
            self.store(session, extra);
            last = again;
        }
        Some(last)
    }

    fn store(&mut self, session: &Session, record: SimRecord) {
        let (last, rest) = session.holders.split_last().unwrap_or((&0, &[]));
        for &holder in rest {
            self.histories[holder].push(record.clone());
        }
        self.histories[*last].push(record);
    }

    fn prompt(&mut self, session: &mut Session, request_id: &str, at: DateTime<Utc>) -> SimRecord {
        let stamp = self.stamp(session, at);
        let owner = self.licensed[session.holders[0]];
        let user_id = self.users[owner].id.clone();
        let orgid = format!("8:orgid:{user_id}");
        let user = records::user_identity(&user_id, &orgid, &self.tenant_id);
        let from = records::from_user(user, self.device());
        let (body, parts) = match (session.app.kind, &session.meeting) {
            (_, Some(meeting)) => self.meeting_prompt(&meeting.thread_id),
            (AppKind::Chat | AppKind::Teams, None) => self.chat_prompt(session.app.kind),
            (AppKind::Mail, None) => self.mail_prompt(),
            (AppKind::Document, None) => self.document_prompt(session.file, owner),
        };
        self.record(session, request_id, &stamp, "userPrompt", from, body, parts)
    }

    fn response(
        &mut self,
        session: &mut Session,
        request_id: &str,
        at: DateTime<Utc>,
        fixed_text: Option<&str>,
    ) -> SimRecord {
        let stamp = self.stamp(session, at);
        let from = records::from_copilot(session.app.bot_name, self.device());
        let (body, parts) = match (fixed_text, session.app.kind, &session.meeting) {
            (Some(text), _, _) => (records::body("text", text), RecordParts::default()),
            (None, _, Some(meeting)) => self.meeting_response(&meeting.thread_id),
            (None, AppKind::Chat, None) => self.chat_response(session.file),
            (None, AppKind::Teams, None) => text_response(&mut self.rng, &content::TEAMS_ANSWERS),
            (None, AppKind::Mail, None) => text_response(&mut self.rng, &content::MAIL_ANSWERS),
            (None, AppKind::Document, None) => self.document_response(session.file),
        };
        self.record(session, request_id, &stamp, "aiResponse", from, body, parts)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        session: &Session,
        request_id: &str,
        stamp: &Stamp,
        interaction_type: &str,
        from: Value,
        body: Value,
        parts: RecordParts,
    ) -> SimRecord {
        let app_class = format!("IPM.SkypeTeams.Message.Copilot.{}", session.app.suffix);
        let header = RecordHeader {
            millis: stamp.millis,
            created: &stamp.text,
            session_id: &session.session_id,
            request_id,
            app_class: &app_class,
            conversation_type: session.app.conversation_type,
            locale: session.locale,
        };
        let json = records::interaction(&header, interaction_type, from, body, parts);
        SimRecord { created: stamp.created, app_class, json }
    }

    fn meeting_prompt(&mut self, thread_id: &str) -> (Value, RecordParts) {
        let question = pick(&mut self.rng, &content::MEETING_PROMPTS);
        let escaped = self.rng.random_bool(0.3);
        let text = format!("{question}{}", records::attachment_marker(thread_id, escaped));
        let parts = RecordParts {
            contexts: vec![records::meeting_context(thread_id)],
            attachments: vec![records::meeting_attachment(thread_id)],
            ..RecordParts::default()
        };
        (records::body("text", &text), parts)
    }

    /// Meeting responses mostly have `contexts: []` although their prompt has the meeting
    /// context, a known issue of the export API.
    fn meeting_response(&mut self, thread_id: &str) -> (Value, RecordParts) {
        let answer = pick(&mut self.rng, &content::MEETING_ANSWERS);
        if self.rng.random_bool(0.8) {
            return (records::body("text", answer), RecordParts::default());
        }
        let text = format!("{answer}{}", records::attachment_marker(thread_id, false));
        let parts = RecordParts {
            contexts: vec![records::meeting_context(thread_id)],
            attachments: vec![records::meeting_attachment(thread_id)],
            ..RecordParts::default()
        };
        (records::body("text", &text), parts)
    }

    fn chat_prompt(&mut self, kind: AppKind) -> (Value, RecordParts) {
        let prompts: &[&str] = match kind {
            AppKind::Teams => &content::TEAMS_PROMPTS,
            _ => &content::CHAT_PROMPTS,
        };
        let question = pick(&mut self.rng, prompts);
        if self.rng.random_bool(0.12) {
            return self.prompt_with_mentions(question);
        }
        (records::body("text", question), RecordParts::default())
    }

    /// A prompt that mentions a user, and sometimes a channel or a tag too.
    fn prompt_with_mentions(&mut self, question: &str) -> (Value, RecordParts) {
        let index = self.rng.random_range(0..self.users.len());
        let user = &self.users[index];
        let name = self.mention_names[index].clone();
        let identity = records::user_identity(&user.id, &user.display_name, &self.tenant_id);
        let mut mentions = vec![records::mention(0, &name, "user", identity)];
        let mut text = format!("<at id=\"0\">{name}</at> {question}");

        match self.rng.random_range(0..4) {
            0 => {
                let channel = pick(&mut self.rng, &content::CHANNEL_NAMES);
                let thread = format!("19:{}@thread.tacv2", URL_SAFE_NO_PAD.encode(self.rng.random::<[u8; 24]>()));
                mentions.push(records::mention(1, channel, "conversation", records::conversation_identity(&thread, channel)));
                text.push_str(&format!(" (see <at id=\"1\">{channel}</at>)"));
            }
            1 => {
                let tag = pick(&mut self.rng, &content::TAG_NAMES);
                let tag_id = guid(&mut self.rng);
                mentions.push(records::mention(1, tag, "tag", records::tag_identity(&tag_id, tag)));
                text.push_str(&format!(" cc <at id=\"1\">{tag}</at>"));
            }
            _ => {}
        }
        let parts = RecordParts { mentions, ..RecordParts::default() };
        (records::body("html", &text), parts)
    }

    /// BizChat answers live in an Adaptive Card that the html body only points at.
    fn chat_response(&mut self, file: &str) -> (Value, RecordParts) {
        let answer = pick(&mut self.rng, &content::CHAT_ANSWERS);
        let attachment_id = hex_id(&mut self.rng);
        let sources = self.rng.random_bool(0.3).then_some(file);
        let card = records::adaptive_card_json(answer, sources);
        let link_count = if self.rng.random_bool(0.6) { self.rng.random_range(1..=4) } else { 0 };
        let links = (0..link_count).map(|_| self.random_link(file)).collect();
        let parts = RecordParts {
            attachments: vec![records::adaptive_card_attachment(&attachment_id, card)],
            links,
            ..RecordParts::default()
        };
        (records::body("html", &records::attachment_marker(&attachment_id, false)), parts)
    }

    fn random_link(&mut self, file: &str) -> Value {
        let display_name = |rng: &mut StdRng, name: &'static str| rng.random_bool(0.85).then_some(name);
        let entity = guid(&mut self.rng);
        match self.rng.random_range(0..4) {
            0 | 1 => {
                let title = pick(&mut self.rng, &content::MEETING_TITLES);
                let event = format!("AAMkAD{}AAA%3d", URL_SAFE_NO_PAD.encode(self.rng.random::<[u8; 30]>()));
                let url = format!("https://teams.microsoft.com/l/meeting/details?eventId={event}");
                let name = display_name(&mut self.rng, title);
                if self.rng.random_bool(0.5) {
                    records::link(&format!("{url}&EntityRepresentationId={entity}"), name, "Event")
                } else {
                    records::link(&url, name, "Meeting")
                }
            }
            2 => {
                let url = format!("https://contoso.sharepoint.com/sites/Launch/Shared%20Documents/{}?web=1&EntityRepresentationId={entity}", file.replace(' ', "%20"));
                let name = self.rng.random_bool(0.85).then_some(file);
                records::link(&url, name, "File")
            }
            _ => records::link("https://www.contoso.com/news/launch-update", display_name(&mut self.rng, "Contoso news"), "web"),
        }
    }

    fn mail_prompt(&mut self) -> (Value, RecordParts) {
        let question = pick(&mut self.rng, &content::MAIL_PROMPTS);
        let contexts = if self.rng.random_bool(0.5) {
            // Contexts often lack fields: this one has no reference.
            vec![records::context(None, Some("RE: Fabrikam renewal"), Some("Email"))]
        } else {
            Vec::new()
        };
        (records::body("text", question), RecordParts { contexts, ..RecordParts::default() })
    }

    fn document_prompt(&mut self, file: &str, owner: usize) -> (Value, RecordParts) {
        let question = pick(&mut self.rng, &content::DOCUMENT_PROMPTS);
        let personal = self.users[owner].user_principal_name.replace(['@', '.'], "_");
        let url = format!("https://contoso-my.sharepoint.com/personal/{personal}/Documents/{}", file.replace(' ', "%20"));
        let context = match self.rng.random_range(0..10) {
            0 => records::context(Some(&url), None, Some("File")),
            1 => records::context(Some(&url), Some(file), Some("")),
            _ => records::context(Some(&url), Some(file), Some("File")),
        };
        (records::body("text", question), RecordParts { contexts: vec![context], ..RecordParts::default() })
    }

    fn document_response(&mut self, file: &str) -> (Value, RecordParts) {
        let (body, mut parts) = text_response(&mut self.rng, &content::DOCUMENT_ANSWERS);
        if self.rng.random_bool(0.3) {
            parts.contexts.push(records::context(None, Some(file), None));
        }
        (body, parts)
    }

    /// `from.device`: mostly null, sometimes an object, sometimes a plain string.
    fn device(&mut self) -> Value {
        match self.rng.random_range(0..20) {
            0 => serde_json::json!({
                "id": guid(&mut self.rng),
                "displayName": pick(&mut self.rng, &content::DEVICE_NAMES),
            }),
            1 => Value::from(pick(&mut self.rng, &content::DEVICE_NAMES)),
            _ => Value::Null,
        }
    }

    fn pick_locale(&mut self) -> &'static str {
        *[("en-us", 60), ("en-US", 20), ("de-de", 10), ("ja-jp", 10)]
            .choose_weighted(&mut self.rng, |(_, weight)| *weight)
            .map(|(locale, _)| locale)
            .unwrap_or(&"en-us")
    }

    fn random_session_start(&mut self) -> DateTime<Utc> {
        let span_ms = (self.options.end - self.options.start).num_milliseconds();
        let offset = self.rng.random_range(0..span_ms.max(1));
        let sub_millisecond_nanos = self.rng.random_range(0..1_000_000);
        self.options.start + Duration::milliseconds(offset) + Duration::nanoseconds(sub_millisecond_nanos)
    }

    /// Truncates `at` to 0 to 7 fractional digits, falling back to full precision when the
    /// truncated time would not be later than the session's previous record, because `id` is
    /// the epoch milliseconds and must stay unique within a session.
    fn stamp(&mut self, session: &mut Session, at: DateTime<Utc>) -> Stamp {
        let digits = *[0, 1, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 7, 7, 7].choose(&mut self.rng).unwrap_or(&3);
        let mut created = truncate_fraction(at, digits);
        if created.timestamp_millis() <= session.last_millis {
            created = truncate_fraction(at, 7);
        }
        session.last_millis = created.timestamp_millis();
        Stamp { created, millis: created.timestamp_millis(), text: format_graph_timestamp(created) }
    }

    fn finish(self) -> Dataset {
        let mut records = BTreeMap::new();
        for (position, mut history) in self.histories.into_iter().enumerate() {
            history.sort_by_key(|record| record.created);
            records.insert(self.users[self.licensed[position]].id.clone(), history);
        }
        Dataset { users: self.users, records, raw_pages: BTreeMap::new() }
    }
}

fn text_response(rng: &mut StdRng, answers: &[&str]) -> (Value, RecordParts) {
    (records::body("text", pick(rng, answers)), RecordParts::default())
}

/// A copy of a record with a new timestamp, id and etag.
fn restamped(record: &SimRecord, stamp: Stamp) -> SimRecord {
    let mut json = record.json.clone();
    json["id"] = Value::from(stamp.millis.to_string());
    json["etag"] = Value::from(stamp.millis.to_string());
    json["createdDateTime"] = Value::from(stamp.text);
    SimRecord { created: stamp.created, app_class: record.app_class.clone(), json }
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    *items.choose(rng).unwrap_or(&items[0])
}

fn pick_weighted_app(rng: &mut StdRng) -> &'static CopilotApp {
    content::APPS.choose_weighted(rng, |app| app.weight).unwrap_or(&content::APPS[0])
}

fn unique_upn(taken: &mut HashSet<String>, local_part: &str) -> String {
    let mut candidate = format!("{local_part}@{TENANT_DOMAIN}");
    let mut suffix = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{local_part}{suffix}@{TENANT_DOMAIN}");
        suffix += 1;
    }
    candidate
}

/// A GUID-shaped id (8-4-4-4-12 lowercase hex) from 128 random bits.
pub(super) fn guid(rng: &mut StdRng) -> String {
    format_guid(rng.random::<u128>())
}

pub(super) fn format_guid(bits: u128) -> String {
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn hex_id(rng: &mut StdRng) -> String {
    format!("{:032x}", rng.random::<u128>())
}

/// A Copilot session id: `19:`, 43 base64url characters, `1@thread.v2`, as in the samples.
fn session_thread_id(rng: &mut StdRng) -> String {
    format!("19:{}1@thread.v2", URL_SAFE_NO_PAD.encode(rng.random::<[u8; 32]>()))
}

/// A Teams meeting thread id: `19:meeting_` and the base64 of a GUID string, as in the samples.
fn meeting_thread_id(rng: &mut StdRng) -> String {
    format!("19:meeting_{}@thread.v2", STANDARD_NO_PAD.encode(guid(rng)))
}

fn truncate_fraction(at: DateTime<Utc>, digits: u32) -> DateTime<Utc> {
    let unit = 10u32.pow(9 - digits.min(9));
    let nanos = at.nanosecond();
    at.with_nanosecond(nanos - nanos % unit).unwrap_or(at)
}

/// Formats like Graph: seconds, then the fraction without trailing zeros (none if zero), then `Z`.
pub(super) fn format_graph_timestamp(at: DateTime<Utc>) -> String {
    let mut text = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = at.nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
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
            assert!(history.len() >= 60 && history.len() <= 70, "{user}: {}", history.len());
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
            let conversation = if record.app_class.ends_with("BizChat") || record.app_class.ends_with("WebChat") { "bizchat" } else { "appchat" };
            assert_eq!(json["conversationType"], conversation, "{}", record.app_class);
        }
    }

    #[test]
    fn natural_keys_are_unique_per_user() {
        let dataset = Dataset::generate(&small_options(9));
        for (user, history) in &dataset.records {
            let keys: HashSet<_> = history.iter().map(|record| (record.json["sessionId"].to_string(), record.json["id"].to_string())).collect();
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
        assert!(count(&|json| json["body"]["content"].as_str().is_some_and(|text| text.contains("&lt;attachment"))) > 0, "escaped marker");
        assert!(count(&|json| json["mentions"].as_array().is_some_and(|list| !list.is_empty())) > 0, "mentions");
        assert!(count(&|json| json["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive") > 0, "cards");
        assert!(count(&|json| json["links"].as_array().is_some_and(|links| links.iter().any(|link| link["displayName"].is_null()))) > 0, "null link names");
        let apps: HashSet<&str> = dataset.records.values().flatten().map(|record| record.app_class.as_str()).collect();
        assert!(apps.len() >= 12, "{apps:?}");
    }

    #[test]
    fn default_size_is_tens_of_kilobytes() {
        let dataset = Dataset::generate(&GenerateOptions::default());
        let bytes: usize = dataset.records.values().flatten().map(|record| record.json.to_string().len()).sum();
        let per_user = bytes / dataset.records.len();
        assert!((20_000..150_000).contains(&per_user), "{per_user} bytes per user");
    }

    #[test]
    fn tiny_window_has_no_records() {
        let start = GenerateOptions::default().start;
        let options = GenerateOptions { end: start + Duration::seconds(5), ..GenerateOptions::default() };
        let dataset = Dataset::generate(&options);
        assert_eq!(dataset.licensed_users().count(), 36);
        assert!(dataset.records.values().all(Vec::is_empty));
    }

    #[test]
    fn timestamps_format_like_graph() {
        let at = DateTime::parse_from_rfc3339("2025-05-09T02:20:56.660Z").expect("timestamp").to_utc();
        assert_eq!(format_graph_timestamp(at), "2025-05-09T02:20:56.66Z");
        assert_eq!(format_graph_timestamp(truncate_fraction(at, 0)), "2025-05-09T02:20:56Z");
        let fine = DateTime::parse_from_rfc3339("2025-05-09T02:20:56.123456789Z").expect("timestamp").to_utc();
        assert_eq!(format_graph_timestamp(truncate_fraction(fine, 7)), "2025-05-09T02:20:56.1234567Z");
    }
}

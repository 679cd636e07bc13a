//! Building the records of one planned session. Each session draws from its own random
//! generator, seeded by the plan, so sessions can be built in parallel and still come out the
//! same for a seed.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::content::{self, AppKind, CopilotApp};
use super::dataset::{SimRecord, SimUser};
use super::records::{self, RecordHeader, RecordParts};

/// The body of the warm-up responses that exported histories contain.
const WARM_UP_BODY: &str = r#"{"IsWarmupRequest":"true"}"#;

/// The users that records name, shared read-only by all session builders.
pub(super) struct Tenant<'a> {
    pub tenant_id: &'a str,
    pub users: &'a [SimUser],
    /// The name that mentions of each user show, parallel to `users`.
    pub mention_names: &'a [String],
    /// Indexes into `users` of the licensed users.
    pub licensed: &'a [usize],
}

/// A session as the planner decided it: the app, the histories that contain it, and the timing
/// of its turns.
pub(super) struct SessionPlan {
    pub app: &'static CopilotApp,
    /// Whether this is a Teams meeting session.
    pub meeting: bool,
    /// Positions in `Tenant::licensed` of the users whose histories contain the session. The
    /// first one wrote the prompts.
    pub holders: Vec<usize>,
    /// The seed of the session's own random generator.
    pub seed: u64,
    pub turns: Vec<TurnPlan>,
}

pub(super) enum TurnPlan {
    /// A lone response with the warm-up body.
    WarmUp { at: DateTime<Utc> },
    /// A prompt and its response, maybe returned twice a second apart with new ids (as the API
    /// sometimes does), maybe with a second response.
    Exchange {
        prompt_at: DateTime<Utc>,
        response_at: DateTime<Utc>,
        duplicated: bool,
        extra_response_at: Option<DateTime<Utc>>,
    },
}

impl TurnPlan {
    /// Returns the number of records the turn produces.
    pub fn record_count(&self) -> usize {
        match self {
            TurnPlan::WarmUp { .. } => 1,
            TurnPlan::Exchange { duplicated, extra_response_at, .. } => {
                2 + if *duplicated { 2 } else { 0 } + usize::from(extra_response_at.is_some())
            }
        }
    }
}

/// Builds the records of `plan`, in turn order.
pub(super) fn build_session(plan: &SessionPlan, tenant: &Tenant<'_>) -> Vec<SimRecord> {
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let session_id = session_thread_id(&mut rng);
    let meeting_thread = plan.meeting.then(|| meeting_thread_id(&mut rng));
    let locale =
        content::LOCALES.choose_weighted(&mut rng, |(_, weight)| *weight).map_or("en-us", |(locale, _)| *locale);
    let file = pick(&mut rng, &content::FILE_NAMES);
    let mut builder = SessionBuilder {
        rng,
        tenant,
        app: plan.app,
        owner: tenant.licensed[plan.holders[0]],
        session_id,
        meeting_thread,
        locale,
        file,
        used_millis: HashSet::new(),
        records: Vec::new(),
    };
    for turn in &plan.turns {
        builder.add_turn(turn);
    }
    builder.records
}

struct SessionBuilder<'a> {
    rng: StdRng,
    tenant: &'a Tenant<'a>,
    app: &'static CopilotApp,
    /// Index into `Tenant::users` of the user who wrote the prompts.
    owner: usize,
    session_id: String,
    /// The thread id of the meeting of a Teams meeting session.
    meeting_thread: Option<String>,
    locale: &'static str,
    /// The file a document app works on.
    file: &'static str,
    /// The ids (`createdDateTime` in epoch milliseconds) taken in this session, because ids
    /// must be unique within a session.
    used_millis: HashSet<i64>,
    records: Vec<SimRecord>,
}

/// A timestamp as a record carries it.
struct Stamp {
    created: DateTime<Utc>,
    millis: i64,
    text: String,
}

impl SessionBuilder<'_> {
    fn add_turn(&mut self, turn: &TurnPlan) {
        let request_id = guid(&mut self.rng);
        let (prompt_at, response_at, duplicated, extra_response_at) = match *turn {
            TurnPlan::WarmUp { at } => {
                let warm_up = self.response(&request_id, at, Some(WARM_UP_BODY));
                self.records.push(warm_up);
                return;
            }
            TurnPlan::Exchange { prompt_at, response_at, duplicated, extra_response_at } => {
                (prompt_at, response_at, duplicated, extra_response_at)
            }
        };

        let prompt = self.prompt(&request_id, prompt_at);
        let response = self.response(&request_id, response_at, None);
        if duplicated {
            let prompt_copy = self.restamped(&prompt, prompt_at + Duration::seconds(1));
            let response_copy = self.restamped(&response, response_at + Duration::seconds(1));
            self.records.extend([prompt, response, prompt_copy, response_copy]);
        } else {
            self.records.extend([prompt, response]);
        }
        if let Some(at) = extra_response_at {
            let extra = self.response(&request_id, at, None);
            self.records.push(extra);
        }
    }

    fn prompt(&mut self, request_id: &str, at: DateTime<Utc>) -> SimRecord {
        let stamp = self.stamp(at);
        let tenant = self.tenant;
        let user_id = &tenant.users[self.owner].id;
        let user = records::user_identity(user_id, &format!("8:orgid:{user_id}"), tenant.tenant_id);
        let from = records::from_user(user, self.device());
        let (body, parts) = match (self.app.kind, self.meeting_thread.clone()) {
            (_, Some(thread_id)) => self.meeting_prompt(&thread_id),
            (AppKind::Chat | AppKind::Teams, None) => self.chat_prompt(),
            (AppKind::Mail, None) => self.mail_prompt(),
            (AppKind::Document, None) => self.document_prompt(),
        };
        self.record(request_id, &stamp, "userPrompt", from, body, parts)
    }

    fn response(&mut self, request_id: &str, at: DateTime<Utc>, fixed_text: Option<&str>) -> SimRecord {
        let stamp = self.stamp(at);
        let from = records::from_copilot(self.app.bot_name, self.device());
        let (body, parts) = match (fixed_text, self.app.kind, self.meeting_thread.clone()) {
            (Some(text), _, _) => (records::body("text", text), RecordParts::default()),
            (None, _, Some(thread_id)) => self.meeting_response(&thread_id),
            (None, AppKind::Chat, None) => self.chat_response(),
            (None, AppKind::Teams, None) => self.text_response(&content::TEAMS_ANSWERS),
            (None, AppKind::Mail, None) => self.text_response(&content::MAIL_ANSWERS),
            (None, AppKind::Document, None) => self.document_response(),
        };
        self.record(request_id, &stamp, "aiResponse", from, body, parts)
    }

    fn record(
        &self,
        request_id: &str,
        stamp: &Stamp,
        interaction_type: &str,
        from: Value,
        body: Value,
        parts: RecordParts,
    ) -> SimRecord {
        let app_class = format!("IPM.SkypeTeams.Message.Copilot.{}", self.app.suffix);
        let header = RecordHeader {
            millis: stamp.millis,
            created: &stamp.text,
            session_id: &self.session_id,
            request_id,
            app_class: &app_class,
            conversation_type: self.app.conversation_type,
            locale: self.locale,
        };
        let json = records::interaction(&header, interaction_type, from, body, parts);
        SimRecord { created: stamp.created, app_class, json }
    }

    /// Returns a copy of `record` at `at`, with a new timestamp, id and etag.
    fn restamped(&mut self, record: &SimRecord, at: DateTime<Utc>) -> SimRecord {
        let stamp = self.stamp(at);
        let mut json = record.json.clone();
        json["id"] = Value::from(stamp.millis.to_string());
        json["etag"] = Value::from(stamp.millis.to_string());
        json["createdDateTime"] = Value::from(stamp.text);
        SimRecord { created: stamp.created, app_class: record.app_class.clone(), json }
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

    fn chat_prompt(&mut self) -> (Value, RecordParts) {
        let prompts: &[&str] = match self.app.kind {
            AppKind::Teams => &content::TEAMS_PROMPTS,
            _ => &content::CHAT_PROMPTS,
        };
        let question = pick(&mut self.rng, prompts);
        if self.rng.random_bool(0.12) {
            return self.prompt_with_mentions(question);
        }
        (records::body("text", question), RecordParts::default())
    }

    /// Builds a prompt that mentions a user, and sometimes a channel or a tag too.
    fn prompt_with_mentions(&mut self, question: &str) -> (Value, RecordParts) {
        let tenant = self.tenant;
        let index = self.rng.random_range(0..tenant.users.len());
        let user = &tenant.users[index];
        let name = &tenant.mention_names[index];
        let identity = records::user_identity(&user.id, &user.display_name, tenant.tenant_id);
        let mut mentions = vec![records::mention(0, name, "user", identity)];
        let mut text = format!("<at id=\"0\">{name}</at> {question}");

        match self.rng.random_range(0..4) {
            0 => {
                let channel = pick(&mut self.rng, &content::CHANNEL_NAMES);
                let thread = format!("19:{}@thread.tacv2", URL_SAFE_NO_PAD.encode(self.rng.random::<[u8; 24]>()));
                let identity = records::conversation_identity(&thread, channel);
                mentions.push(records::mention(1, channel, "conversation", identity));
                text.push_str(&format!(" (see <at id=\"1\">{channel}</at>)"));
            }
            1 => {
                let tag = pick(&mut self.rng, &content::TAG_NAMES);
                let identity = records::tag_identity(&guid(&mut self.rng), tag);
                mentions.push(records::mention(1, tag, "tag", identity));
                text.push_str(&format!(" cc <at id=\"1\">{tag}</at>"));
            }
            _ => {}
        }
        let parts = RecordParts { mentions, ..RecordParts::default() };
        (records::body("html", &text), parts)
    }

    /// Builds a BizChat response, whose text is in an Adaptive Card that the html body only
    /// points at.
    fn chat_response(&mut self) -> (Value, RecordParts) {
        let answer = pick(&mut self.rng, &content::CHAT_ANSWERS);
        let attachment_id = format!("{:032x}", self.rng.random::<u128>());
        let sources = self.rng.random_bool(0.3).then_some(self.file);
        let card = records::adaptive_card_json(answer, sources);
        let link_count = if self.rng.random_bool(0.6) { self.rng.random_range(1..=4) } else { 0 };
        let links = (0..link_count).map(|_| self.random_link()).collect();
        let parts = RecordParts {
            attachments: vec![records::adaptive_card_attachment(&attachment_id, card)],
            links,
            ..RecordParts::default()
        };
        (records::body("html", &records::attachment_marker(&attachment_id, false)), parts)
    }

    /// Builds an Event, Meeting, File or web link. About one in seven has no display name.
    fn random_link(&mut self) -> Value {
        let named = |rng: &mut StdRng, name: &'static str| rng.random_bool(0.85).then_some(name);
        let entity = guid(&mut self.rng);
        match self.rng.random_range(0..4) {
            0 | 1 => {
                let title = pick(&mut self.rng, &content::MEETING_TITLES);
                let event = format!("AAMkAD{}AAA%3d", URL_SAFE_NO_PAD.encode(self.rng.random::<[u8; 30]>()));
                let url = format!("https://teams.microsoft.com/l/meeting/details?eventId={event}");
                let name = named(&mut self.rng, title);
                if self.rng.random_bool(0.5) {
                    records::link(&format!("{url}&EntityRepresentationId={entity}"), name, "Event")
                } else {
                    records::link(&url, name, "Meeting")
                }
            }
            2 => {
                let file = self.file.replace(' ', "%20");
                let url = format!(
                    "https://contoso.sharepoint.com/sites/Launch/Shared%20Documents/{file}?web=1&EntityRepresentationId={entity}"
                );
                let name = named(&mut self.rng, self.file);
                records::link(&url, name, "File")
            }
            _ => {
                let name = named(&mut self.rng, "Contoso news");
                records::link("https://www.contoso.com/news/launch-update", name, "web")
            }
        }
    }

    fn mail_prompt(&mut self) -> (Value, RecordParts) {
        let question = pick(&mut self.rng, &content::MAIL_PROMPTS);
        let contexts = if self.rng.random_bool(0.5) {
            // Contexts often lack fields, and this one has no reference.
            vec![records::context(None, Some("RE: Fabrikam renewal"), Some("Email"))]
        } else {
            Vec::new()
        };
        (records::body("text", question), RecordParts { contexts, ..RecordParts::default() })
    }

    fn document_prompt(&mut self) -> (Value, RecordParts) {
        let question = pick(&mut self.rng, &content::DOCUMENT_PROMPTS);
        let personal = self.tenant.users[self.owner].user_principal_name.replace(['@', '.'], "_");
        let file = self.file;
        let url =
            format!("https://contoso-my.sharepoint.com/personal/{personal}/Documents/{}", file.replace(' ', "%20"));
        let context = match self.rng.random_range(0..10) {
            0 => records::context(Some(&url), None, Some("File")),
            1 => records::context(Some(&url), Some(file), Some("")),
            _ => records::context(Some(&url), Some(file), Some("File")),
        };
        (records::body("text", question), RecordParts { contexts: vec![context], ..RecordParts::default() })
    }

    fn document_response(&mut self) -> (Value, RecordParts) {
        let (body, mut parts) = self.text_response(&content::DOCUMENT_ANSWERS);
        if self.rng.random_bool(0.3) {
            parts.contexts.push(records::context(None, Some(self.file), None));
        }
        (body, parts)
    }

    fn text_response(&mut self, answers: &[&str]) -> (Value, RecordParts) {
        (records::body("text", pick(&mut self.rng, answers)), RecordParts::default())
    }

    /// Builds `from.device`: mostly null, sometimes an object, sometimes a plain string.
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

    /// Truncates `at` to 0 to 7 fractional digits. Because `id` is the epoch milliseconds and
    /// must be unique within a session, a time whose millisecond is taken falls back to full
    /// precision, and then moves on by whole milliseconds until one is free.
    fn stamp(&mut self, at: DateTime<Utc>) -> Stamp {
        let digits = *[0, 1, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 7, 7, 7].choose(&mut self.rng).unwrap_or(&3);
        let mut created = truncate_fraction(at, digits);
        if self.used_millis.contains(&created.timestamp_millis()) {
            created = truncate_fraction(at, 7);
        }
        while !self.used_millis.insert(created.timestamp_millis()) {
            created += Duration::milliseconds(1);
        }
        Stamp { created, millis: created.timestamp_millis(), text: format_graph_timestamp(created) }
    }
}

pub(super) fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    *items.choose(rng).unwrap_or(&items[0])
}

/// Returns a GUID-shaped id (8-4-4-4-12 lowercase hex) made of 128 random bits.
pub(super) fn guid(rng: &mut StdRng) -> String {
    format_guid(rng.random::<u128>())
}

pub(super) fn format_guid(bits: u128) -> String {
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Returns a Copilot session id: `19:`, 43 base64url characters and `1@thread.v2`, as in the
/// published examples.
fn session_thread_id(rng: &mut StdRng) -> String {
    format!("19:{}1@thread.v2", URL_SAFE_NO_PAD.encode(rng.random::<[u8; 32]>()))
}

/// Returns a Teams meeting thread id: `19:meeting_` and the base64 of a GUID string, as in the
/// published examples.
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

    #[test]
    fn timestamps_format_like_graph() {
        let at = DateTime::parse_from_rfc3339("2025-05-09T02:20:56.660Z").expect("timestamp").to_utc();
        assert_eq!(format_graph_timestamp(at), "2025-05-09T02:20:56.66Z");
        assert_eq!(format_graph_timestamp(truncate_fraction(at, 0)), "2025-05-09T02:20:56Z");
        let fine = DateTime::parse_from_rfc3339("2025-05-09T02:20:56.123456789Z").expect("timestamp").to_utc();
        assert_eq!(format_graph_timestamp(truncate_fraction(fine, 7)), "2025-05-09T02:20:56.1234567Z");
    }

    #[test]
    fn turn_record_counts() {
        let at = DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").expect("timestamp").to_utc();
        let exchange = |duplicated, extra: Option<DateTime<Utc>>| TurnPlan::Exchange {
            prompt_at: at,
            response_at: at + Duration::seconds(1),
            duplicated,
            extra_response_at: extra,
        };
        assert_eq!(TurnPlan::WarmUp { at }.record_count(), 1);
        assert_eq!(exchange(false, None).record_count(), 2);
        assert_eq!(exchange(true, None).record_count(), 4);
        assert_eq!(exchange(true, Some(at + Duration::seconds(9))).record_count(), 5);
    }
}

//! Privacy controls for the lake, applied to each record before it is flattened:
//!
//! - `--content keep|hash|drop`: the message text (body content, attachment content, mention
//!   text and the derived `body_text`) is kept, replaced by its keyed hash, or dropped (null).
//! - `--pseudonymize-users KEY_FILE`: user ids and display names (the key's `user_id`,
//!   `from_user_id`, `from_user_display_name`, `mentioned_user_id`,
//!   `mentioned_user_display_name`) are replaced by keyed hashes.
//!
//! Every hash is HMAC-SHA256 of the value's UTF-8 bytes, in lower-case hex (64 characters).
//! The same key maps the same value to the same hash in every table and every run, so joins and
//! counts of distinct values still work. Without the key, a guessed value cannot be tested.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

pub mod key;
pub mod lake;

pub use key::{MIN_KEY_BYTES, PrivacyKey};

use crate::graph::interactions::Rejection;
use crate::graph::model::{Identity, IdentitySet, Interaction, Text};

/// The treatment of message text in the lake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentMode {
    /// The text as Graph returns it.
    #[default]
    Keep,
    /// HMAC-SHA256 of the text under the content key, in hex: equal texts still match.
    Hash,
    /// Null.
    Drop,
}

/// The privacy settings of a run. The default keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Privacy {
    content: ContentMode,
    /// Set exactly when `content` is [`ContentMode::Hash`].
    content_key: Option<Arc<PrivacyKey>>,
    user_key: Option<Arc<PrivacyKey>>,
}

impl Privacy {
    /// Combines the settings. `--content hash` needs a content key; a content key with another
    /// mode is refused, so a mistyped mode cannot leave text in the lake unnoticed.
    pub fn new(
        content: ContentMode,
        content_key: Option<PrivacyKey>,
        user_key: Option<PrivacyKey>,
    ) -> Result<Self, String> {
        match (content, &content_key) {
            (ContentMode::Hash, None) => {
                return Err("--content hash needs a key: pass --content-key-file KEY_FILE, or --pseudonymize-users KEY_FILE to use that key for both".into());
            }
            (ContentMode::Keep | ContentMode::Drop, Some(_)) => {
                return Err(
                    "a content key is used only with --content hash; add --content hash or remove --content-key-file"
                        .into(),
                );
            }
            _ => {}
        }
        Ok(Privacy { content, content_key: content_key.map(Arc::new), user_key: user_key.map(Arc::new) })
    }

    pub fn content(&self) -> ContentMode {
        self.content
    }

    pub fn content_key(&self) -> Option<&PrivacyKey> {
        self.content_key.as_deref()
    }

    pub fn user_key(&self) -> Option<&PrivacyKey> {
        self.user_key.as_deref()
    }

    /// True when any control is on: then rejected records are withheld as well.
    pub fn is_active(&self) -> bool {
        self.content != ContentMode::Keep || self.user_key.is_some()
    }

    /// Returns the value of the key column `user_id` for a requested user.
    pub fn user_id<'a>(&self, user_id: &'a str) -> Cow<'a, str> {
        match &self.user_key {
            Some(key) => Cow::Owned(key.hash_hex(user_id)),
            None => Cow::Borrowed(user_id),
        }
    }

    /// Applies the settings to one record in place.
    pub fn apply(&self, record: &mut Interaction) {
        self.apply_content(record);
        if let Some(key) = &self.user_key {
            pseudonymize_user(key, record.from.as_deref_mut());
            for mention in record.mentions.iter_mut().flatten().flatten() {
                pseudonymize_user(key, mention.mentioned.as_deref_mut());
            }
        }
    }

    fn apply_content(&self, record: &mut Interaction) {
        let transform: Box<dyn Fn(&str) -> String> = match (self.content, &self.content_key) {
            (ContentMode::Keep, _) => return,
            (ContentMode::Hash, Some(key)) => {
                let key = Arc::clone(key);
                Box::new(move |text: &str| key.hash_hex(text))
            }
            // `new` refuses Hash without a key; dropping is the safe reading of that state.
            (ContentMode::Hash, None) | (ContentMode::Drop, _) => {
                record.body_text_override = Some(None);
                transform_content(record, None);
                return;
            }
        };
        // The text is derived from the original body and cards, before they are hashed.
        let body_text = crate::flatten::derive_body_text(record);
        record.body_text_override = Some(body_text.as_deref().map(&transform));
        transform_content(record, Some(&*transform));
    }

    /// Returns the entry of the rejection file for one rejected record. While a control is on,
    /// the record is withheld: its shape is unknown, so no field can be trusted to hold only
    /// what the control allows.
    pub fn rejected(&self, user_id: &str, rejection: &Rejection) -> RejectedRecord {
        let (record, withheld) = if self.is_active() {
            (None, Some(Withheld::of(&rejection.record)))
        } else {
            (Some(rejection.record.clone()), None)
        };
        RejectedRecord {
            user_id: self.user_id(user_id).into_owned(),
            page: rejection.page,
            field: rejection.field.clone(),
            reason: rejection.reason.clone(),
            record,
            withheld,
        }
    }
}

/// Hashes (`Some`) or drops (`None`) the body content, attachment content and mention text.
fn transform_content(record: &mut Interaction, transform: Option<&dyn Fn(&str) -> String>) {
    let apply = |value: &mut Option<Text>| {
        *value = match (value.as_deref(), transform) {
            (Some(text), Some(transform)) => Some(transform(text).into()),
            _ => None,
        };
    };
    if let Some(body) = record.body.as_mut() {
        apply(&mut body.content);
    }
    for attachment in record.attachments.iter_mut().flatten().flatten() {
        apply(&mut attachment.content);
    }
    for mention in record.mentions.iter_mut().flatten().flatten() {
        // The text of a mention is what the user typed, usually the mentioned person's name.
        apply(&mut mention.mention_text);
    }
}

fn pseudonymize_user(key: &PrivacyKey, identities: Option<&mut IdentitySet>) {
    let Some(Identity { id, display_name, .. }) = identities.and_then(|set| set.user.as_deref_mut()) else {
        return;
    };
    for value in [id, display_name] {
        if let Some(text) = value.as_deref() {
            *value = Some(key.hash_hex(text).into());
        }
    }
}

/// One entry of `_copilot_lake/rejected/<run>.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedRecord {
    /// The requested user, pseudonymized like the tables' `user_id`.
    pub user_id: String,
    pub page: u32,
    pub field: String,
    pub reason: String,
    /// The record's JSON text as Graph sent it, when no privacy control is on. A string keeps
    /// the file readable by parsers with a nesting limit (serde_json's is 128), whatever the
    /// record's depth. `jq '.[].record | fromjson'` prints the records.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "json_text")]
    pub record: Option<Box<RawValue>>,
    /// The content-free facts kept in place of the record while a privacy control is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Withheld>,
}

fn json_text<S: serde::Serializer>(record: &Option<Box<RawValue>>, serializer: S) -> Result<S::Ok, S::Error> {
    match record {
        Some(raw) => serializer.serialize_str(raw.get()),
        None => serializer.serialize_none(),
    }
}

/// The content-free facts of a withheld record: enough to find its time window again.
#[derive(Debug, Clone, Serialize)]
pub struct Withheld {
    /// The record's `createdDateTime`, when it is a valid RFC 3339 time.
    pub created_date_time: Option<chrono::DateTime<chrono::Utc>>,
    /// The size of the record's JSON text.
    pub bytes: usize,
}

impl Withheld {
    fn of(record: &RawValue) -> Withheld {
        #[derive(serde::Deserialize)]
        struct Created {
            #[serde(rename = "createdDateTime")]
            created: Option<chrono::DateTime<chrono::Utc>>,
        }
        let created = serde_json::from_str::<Created>(record.get()).ok().and_then(|fields| fields.created);
        Withheld { created_date_time: created, bytes: record.get().len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::interactions::parse_page;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key() -> PrivacyKey {
        PrivacyKey::new(KEY).expect("32-byte key")
    }

    fn record() -> Interaction {
        let page = br#"{"value":[{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z",
            "from":{"user":{"id":"u-guid","displayName":"Zoe Example","tenantId":"t"}},
            "body":{"contentType":"html","content":"<attachment id=\"a1\"></attachment>"},
            "attachments":[{"attachmentId":"a1","contentType":"application/vnd.microsoft.card.adaptive",
                "content":"{\"body\":[{\"type\":\"TextBlock\",\"text\":\"Card answer\"}]}"}],
            "mentions":[{"mentionId":0,"mentionText":"Zoe","mentioned":{"user":{"id":"m-guid","displayName":"Zoe Example"}}}]}]}"#;
        let mut parsed = parse_page(page, 0).expect("page");
        parsed.records.remove(0).expect("record")
    }

    #[test]
    fn hash_needs_a_key() {
        let error = Privacy::new(ContentMode::Hash, None, None).expect_err("no key");
        assert!(error.contains("--content-key-file"), "{error}");
        let error = Privacy::new(ContentMode::Drop, Some(key()), None).expect_err("unused key");
        assert!(error.contains("--content hash"), "{error}");
    }

    #[test]
    fn hash_mode_hashes_text_and_derived_text() {
        let privacy = Privacy::new(ContentMode::Hash, Some(key()), None).expect("privacy");
        let mut record = record();
        let original = record.clone();
        privacy.apply(&mut record);

        let hash = |text: &str| key().hash_hex(text);
        let body = record.body.as_ref().expect("body");
        assert_eq!(body.content.as_deref(), Some(hash("<attachment id=\"a1\"></attachment>").as_str()));
        assert_eq!(body.content_type.as_deref(), Some("html"));
        let attachment = record.attachments.as_ref().expect("list")[0].as_ref().expect("attachment");
        let original_card = original.attachments.as_ref().expect("list")[0].as_ref().expect("a").content.clone();
        assert_eq!(attachment.content.as_deref(), original_card.as_deref().map(hash).as_deref());
        assert_eq!(record.body_text_override, Some(Some(hash("Card answer"))));
        let mention = record.mentions.as_ref().expect("list")[0].as_ref().expect("mention");
        assert_eq!(mention.mention_text.as_deref(), Some(hash("Zoe").as_str()));
        assert_eq!(record.from, original.from, "users stay without --pseudonymize-users");
    }

    #[test]
    fn drop_mode_drops_text() {
        let privacy = Privacy::new(ContentMode::Drop, None, None).expect("privacy");
        let mut record = record();
        privacy.apply(&mut record);
        assert_eq!(record.body.as_ref().expect("body").content, None);
        assert_eq!(record.attachments.as_ref().expect("list")[0].as_ref().expect("a").content, None);
        assert_eq!(record.mentions.as_ref().expect("list")[0].as_ref().expect("m").mention_text, None);
        assert_eq!(record.body_text_override, Some(None));
    }

    #[test]
    fn users_get_the_same_pseudonym_everywhere() {
        let privacy = Privacy::new(ContentMode::Keep, None, Some(key())).expect("privacy");
        let mut record = record();
        privacy.apply(&mut record);
        let from = record.from.as_ref().and_then(|from| from.user.as_ref()).expect("from user");
        assert_eq!(from.id.as_deref(), Some(key().hash_hex("u-guid").as_str()));
        assert_eq!(from.display_name.as_deref(), Some(key().hash_hex("Zoe Example").as_str()));
        assert_eq!(from.tenant_id.as_deref(), Some("t"));
        let mentioned = record.mentions.as_ref().expect("list")[0].as_ref().expect("m");
        let user = mentioned.mentioned.as_ref().and_then(|set| set.user.as_ref()).expect("user");
        assert_eq!(user.display_name, from.display_name);
        assert_eq!(privacy.user_id("u-guid"), key().hash_hex("u-guid"));
        assert_eq!(record.body_text_override, None, "content stays with --content keep");
    }

    #[test]
    fn rejected_records_are_withheld_under_privacy() {
        let page = br#"{"value":[{"id":"1","sessionId":7,"createdDateTime":"2025-01-01T00:00:00Z","body":{"content":"secret"}}]}"#;
        let parsed = parse_page(page, 4).expect("page");
        let rejection = parsed.records[0].as_ref().expect_err("rejected");

        let kept = Privacy::default().rejected("u1", rejection);
        assert_eq!(kept.user_id, "u1");
        assert!(serde_json::to_string(&kept).expect("json").contains("secret"));

        let privacy = Privacy::new(ContentMode::Drop, None, Some(key())).expect("privacy");
        let withheld = privacy.rejected("u1", rejection);
        let json = serde_json::to_string(&withheld).expect("json");
        assert!(!json.contains("secret"), "{json}");
        assert_eq!(withheld.user_id, key().hash_hex("u1"));
        let facts = withheld.withheld.expect("withheld facts");
        assert_eq!(facts.bytes, rejection.record.get().len());
        assert_eq!(facts.created_date_time.map(|t| t.to_rfc3339()), Some("2025-01-01T00:00:00+00:00".into()));
    }
}

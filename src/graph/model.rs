//! The `aiInteraction` record as Graph returns it, read tolerantly: unknown fields are ignored,
//! enum-like values stay strings (new values such as `unknownFutureValue` pass through), every
//! optional field accepts `null`, and `from.device` may be an object or a plain string.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::sanitize::redact_values;

/// A string of a record. Most of a record's strings (ids of 13 digits, enum values, locales,
/// content types, short names) fit in its 24 bytes without a heap allocation, which matters
/// because records wait in memory until their user's last page.
pub type Text = compact_str::CompactString;

/// One page of a Graph collection. Records stay raw so that one bad record is rejected alone
/// instead of failing the whole page.
#[derive(Debug, Deserialize)]
pub struct RawPage<'a> {
    #[serde(borrow)]
    pub value: Vec<&'a RawValue>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    pub id: Text,
    pub session_id: Text,
    pub request_id: Option<Text>,
    pub app_class: Option<Text>,
    pub interaction_type: Option<Text>,
    pub conversation_type: Option<Text>,
    pub etag: Option<Text>,
    pub created_date_time: DateTime<Utc>,
    pub locale: Option<Text>,
    /// Boxed, like the identities inside: records wait in memory until their user's last page,
    /// and an inline identity set takes about 700 bytes even when Graph sends none.
    pub from: Option<Box<IdentitySet>>,
    pub body: Option<ItemBody>,
    pub contexts: Option<Vec<Option<Context>>>,
    pub attachments: Option<Vec<Option<Attachment>>>,
    pub links: Option<Vec<Option<Link>>>,
    pub mentions: Option<Vec<Option<Mention>>>,
    /// The `body_text` column when the privacy transform decides it instead of the flattener:
    /// `Some(None)` drops it, `Some(Some(hash))` stores the hash of the text derived from the
    /// original body. `None`, as parsed, lets the flattener derive it. Never read from Graph.
    #[serde(skip)]
    pub body_text_override: Option<Option<String>>,
}

/// `identitySet` and its subtypes (`chatMessageFromIdentitySet`, `chatMessageMentionedIdentitySet`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdentitySet {
    pub user: Option<Box<Identity>>,
    pub application: Option<Box<Identity>>,
    pub device: Option<Box<Device>>,
    pub conversation: Option<Box<Identity>>,
    pub tag: Option<Box<Identity>>,
}

/// `identity` and its Teams subtypes; each subtype adds one of the `*IdentityType` fields.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: Option<Text>,
    pub display_name: Option<Text>,
    pub user_identity_type: Option<Text>,
    pub application_identity_type: Option<Text>,
    pub conversation_identity_type: Option<Text>,
    /// An open-type extra that Graph adds to `teamworkUserIdentity`.
    pub tenant_id: Option<Text>,
}

/// `from.device`: documented as an identity, seen in the wild as a bare string.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Device {
    Identity(Identity),
    Text(String),
}

impl Device {
    /// Returns the device id; a bare-string device is taken as its id.
    pub fn id(&self) -> Option<&str> {
        match self {
            Device::Identity(identity) => identity.id.as_deref(),
            Device::Text(text) => Some(text),
        }
    }

    pub fn display_name(&self) -> Option<&str> {
        match self {
            Device::Identity(identity) => identity.display_name.as_deref(),
            Device::Text(_) => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    pub content_type: Option<Text>,
    pub content: Option<Text>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub context_reference: Option<Text>,
    pub context_type: Option<Text>,
    pub display_name: Option<Text>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub attachment_id: Option<Text>,
    pub content_type: Option<Text>,
    pub content_url: Option<Text>,
    pub content: Option<Text>,
    pub name: Option<Text>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub link_url: Option<Text>,
    pub link_type: Option<Text>,
    pub display_name: Option<Text>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Mention {
    pub mention_id: Option<i32>,
    pub mention_text: Option<Text>,
    pub mentioned: Option<Box<IdentitySet>>,
}

/// Why a record was rejected: the JSON path of the offending field and serde's message.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid record at '{}': {}", self.path, self.message)
    }
}

/// Parses one record, naming the offending field on failure. The message never quotes a value
/// from the record, because values can be prompt text and rejections are logged.
pub fn parse_interaction(raw: &RawValue) -> Result<Interaction, RecordError> {
    if let Some(kind) = non_object_kind(raw.get()) {
        return Err(RecordError { path: ".".into(), message: format!("the record is {kind}, not a JSON object") });
    }
    // Tracking the path costs on every field, so only a record that fails is parsed again
    // with it, to name the field.
    serde_json::from_str(raw.get()).or_else(|_| {
        let mut deserializer = serde_json::Deserializer::from_str(raw.get());
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| RecordError {
            path: error.path().to_string(),
            message: redact_values(&error.inner().to_string()),
        })
    })
}

/// Names the kind of a JSON value that is not an object, from its first byte. `raw` is valid
/// JSON without leading whitespace, as `RawValue` keeps it.
fn non_object_kind(raw: &str) -> Option<&'static str> {
    match raw.as_bytes().first()? {
        b'{' => None,
        b'[' => Some("an array"),
        b'"' => Some("a string"),
        b'n' => Some("null"),
        b't' | b'f' => Some("a boolean"),
        _ => Some("a number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Interaction, RecordError> {
        let raw: Box<RawValue> = serde_json::from_str(json).expect("test JSON is valid");
        parse_interaction(&raw)
    }

    const MINIMAL: &str = r#"{"id":"1","sessionId":"s","createdDateTime":"2025-05-09T02:20:56.66Z"}"#;

    #[test]
    fn records_stay_small_in_memory() {
        // Records wait in memory for their user's last page; inline identity sets once made an
        // empty record take over 1 KB.
        assert!(size_of::<Interaction>() <= 512, "{} bytes", size_of::<Interaction>());
        assert!(size_of::<Mention>() <= 64, "{} bytes", size_of::<Mention>());
    }

    #[test]
    fn minimal_record_parses() {
        let record = parse(MINIMAL).expect("minimal record");
        assert_eq!(record.id, "1");
        assert_eq!(record.created_date_time.timestamp_micros(), 1_746_757_256_660_000);
        assert!(record.contexts.is_none());
    }

    #[test]
    fn seven_fraction_digits_parse() {
        let json = r#"{"id":"1","sessionId":"s","createdDateTime":"2025-05-09T02:20:56.1234567Z"}"#;
        let record = parse(json).expect("record");
        assert_eq!(record.created_date_time.timestamp_subsec_nanos(), 123_456_700);
    }

    #[test]
    fn device_as_string_or_object() {
        let text = r#"{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z","from":{"device":"dev-1"}}"#;
        let record = parse(text).expect("string device");
        let device = record.from.and_then(|from| from.device).expect("device");
        assert_eq!(device.id(), Some("dev-1"));
        assert_eq!(device.display_name(), None);

        let object = r#"{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z","from":{"device":{"id":"d","displayName":"Laptop"}}}"#;
        let record = parse(object).expect("object device");
        let device = record.from.and_then(|from| from.device).expect("device");
        assert_eq!(device.id(), Some("d"));
        assert_eq!(device.display_name(), Some("Laptop"));
    }

    #[test]
    fn nulls_and_unknown_fields_are_accepted() {
        let json = r#"{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z",
            "interactionType":"unknownFutureValue","brandNewField":{"x":[1,2]},
            "contexts":null,"attachments":[null],"links":[{"linkUrl":null}],"from":null,"body":null}"#;
        let record = parse(json).expect("tolerant record");
        assert_eq!(record.interaction_type.as_deref(), Some("unknownFutureValue"));
        assert_eq!(record.attachments, Some(vec![None]));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let json =
            r#"{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z","mentions":[{"mentionId":"zero"}]}"#;
        let error = parse(json).expect_err("string mentionId");
        assert_eq!(error.path, "mentions[0].mentionId");
    }

    #[test]
    fn non_objects_are_named() {
        for (json, kind) in [
            ("42", "a number"),
            ("\"secret\"", "a string"),
            ("null", "null"),
            ("[{}]", "an array"),
            ("true", "a boolean"),
        ] {
            let error = parse(json).expect_err(json);
            assert_eq!(error.path, ".", "{json}");
            assert_eq!(error.message, format!("the record is {kind}, not a JSON object"));
        }
    }

    #[test]
    fn wrong_type_message_quotes_no_value() {
        let json = r#"{"id":"1","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z","body":"my private prompt"}"#;
        let error = parse(json).expect_err("string body");
        assert_eq!(error.path, "body");
        assert!(!error.to_string().contains("private"), "{error}");
        assert!(error.message.contains("string (redacted)"), "{error}");
    }

    #[test]
    fn missing_session_id_is_rejected() {
        let error = parse(r#"{"id":"1","createdDateTime":"2025-01-01T00:00:00Z"}"#).expect_err("no sessionId");
        assert!(error.message.contains("sessionId"), "{}", error.message);
    }
}

//! Builders for the JSON shapes of `aiInteraction` records and their parts, as they appear in the
//! examples on Microsoft's reference pages for the getAllEnterpriseInteractions API.

use serde::Serialize;
use serde_json::{Value, json};

use super::content::COPILOT_APP_ID;

/// The fields every record has, whatever its type.
pub(super) struct RecordHeader<'a> {
    /// `createdDateTime` in epoch milliseconds, which is also the record's `id` and `etag`.
    pub millis: i64,
    pub created: &'a str,
    pub session_id: &'a str,
    pub request_id: &'a str,
    pub app_class: &'a str,
    pub conversation_type: &'a str,
    pub locale: &'a str,
}

/// The lists of a record, all empty by default.
#[derive(Default)]
pub(super) struct RecordParts {
    pub contexts: Vec<Value>,
    pub attachments: Vec<Value>,
    pub links: Vec<Value>,
    pub mentions: Vec<Value>,
}

pub(super) fn interaction(
    header: &RecordHeader<'_>,
    interaction_type: &str,
    from: Value,
    body: Value,
    parts: RecordParts,
) -> Value {
    let id = header.millis.to_string();
    json!({
        "id": id,
        "sessionId": header.session_id,
        "requestId": header.request_id,
        "appClass": header.app_class,
        "interactionType": interaction_type,
        "conversationType": header.conversation_type,
        "etag": id,
        "createdDateTime": header.created,
        "locale": header.locale,
        "contexts": parts.contexts,
        "from": from,
        "body": body,
        "attachments": parts.attachments,
        "links": parts.links,
        "mentions": parts.mentions,
    })
}

/// Builds a `teamworkUserIdentity`. `displayName` is the display name for mentions, and the
/// `8:orgid:<id>` form in `from.user`.
pub(super) fn user_identity(id: &str, display_name: &str, tenant_id: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.teamworkUserIdentity",
        "id": id,
        "displayName": display_name,
        "userIdentityType": "aadUser",
        "tenantId": tenant_id,
    })
}

/// `from` of a user prompt.
pub(super) fn from_user(user: Value, device: Value) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.chatMessageFromIdentitySet",
        "application": null,
        "device": device,
        "user": user,
    })
}

/// `from` of a Copilot response.
pub(super) fn from_copilot(bot_name: &str, device: Value) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.chatMessageFromIdentitySet",
        "device": device,
        "user": null,
        "application": {
            "@odata.type": "#microsoft.graph.teamworkApplicationIdentity",
            "id": COPILOT_APP_ID,
            "displayName": bot_name,
            "applicationIdentityType": "bot",
        },
    })
}

pub(super) fn body(content_type: &str, content: &str) -> Value {
    json!({ "contentType": content_type, "content": content })
}

pub(super) fn context(reference: Option<&str>, display_name: Option<&str>, kind: Option<&str>) -> Value {
    json!({ "contextReference": reference, "displayName": display_name, "contextType": kind })
}

/// Builds the context that Copilot in a Teams meeting records.
pub(super) fn meeting_context(meeting_thread: &str) -> Value {
    let reference = meeting_url(meeting_thread);
    context(Some(&reference), Some("Teams Meeting Copilot"), Some("TeamsMeeting"))
}

pub(super) fn meeting_url(meeting_thread: &str) -> String {
    format!("https://microsoft.teams.com/threads/{meeting_thread}")
}

/// Builds the `reference` attachment that points at a Teams meeting.
pub(super) fn meeting_attachment(meeting_thread: &str) -> Value {
    json!({
        "attachmentId": meeting_thread,
        "contentType": "reference",
        "contentUrl": meeting_url(meeting_thread),
        "content": null,
        "name": "Teams Meeting Copilot",
    })
}

/// Returns the marker at the end of a meeting prompt's text, raw or HTML-escaped, because
/// both forms occur.
pub(super) fn attachment_marker(attachment_id: &str, escaped: bool) -> String {
    if escaped {
        format!("&lt;attachment id=\"{attachment_id}\"&gt;&lt;/attachment&gt;")
    } else {
        format!("<attachment id=\"{attachment_id}\"></attachment>")
    }
}

/// Builds an Adaptive Card attachment whose `content` is the card as a JSON string.
pub(super) fn adaptive_card_attachment(attachment_id: &str, card: String) -> Value {
    json!({
        "attachmentId": attachment_id,
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": null,
        "content": card,
        "name": null,
    })
}

pub(super) fn link(url: &str, display_name: Option<&str>, kind: &str) -> Value {
    json!({ "linkUrl": url, "displayName": display_name, "linkType": kind })
}

/// Builds a mention whose `mentioned` is a `chatMessageMentionedIdentitySet` with exactly one
/// of `user`, `conversation` or `tag` set.
pub(super) fn mention(mention_id: usize, text: &str, identity_kind: &str, identity: Value) -> Value {
    let mut mentioned = json!({
        "@odata.type": "#microsoft.graph.chatMessageMentionedIdentitySet",
        "application": null,
        "device": null,
        "user": null,
        "conversation": null,
        "tag": null,
    });
    mentioned[identity_kind] = identity;
    json!({ "mentionId": mention_id, "mentionText": text, "mentioned": mentioned })
}

pub(super) fn conversation_identity(thread_id: &str, display_name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.teamworkConversationIdentity",
        "id": thread_id,
        "displayName": display_name,
        "conversationIdentityType": "channel",
    })
}

pub(super) fn tag_identity(id: &str, display_name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.teamworkTagIdentity",
        "id": id,
        "displayName": display_name,
    })
}

/// Serializes an Adaptive Card the way Copilot stores it: indented by two spaces, with CRLF line
/// ends. Structs, not `json!`, keep `type` before the other keys as in real cards.
pub(super) fn adaptive_card_json(text: &str, sources: Option<&str>) -> String {
    let mut body = vec![CardElement::Text(TextBlock { kind: "TextBlock", text, wrap: true })];
    if let Some(source) = sources {
        body.push(CardElement::Rich(RichTextBlock {
            kind: "RichTextBlock",
            inlines: vec![
                TextRun { kind: "TextRun", text: "Sources: ", weight: None },
                TextRun { kind: "TextRun", text: source, weight: Some("bolder") },
            ],
        }));
    }
    let card = AdaptiveCard { kind: "AdaptiveCard", version: "1.0", body };
    // These structs contain only strings, booleans and lists, which always serialize.
    serde_json::to_string_pretty(&card).unwrap_or_default().replace('\n', "\r\n")
}

#[derive(Serialize)]
struct AdaptiveCard<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'static str,
    body: Vec<CardElement<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum CardElement<'a> {
    Text(TextBlock<'a>),
    Rich(RichTextBlock<'a>),
}

#[derive(Serialize)]
struct TextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    wrap: bool,
}

#[derive(Serialize)]
struct RichTextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    inlines: Vec<TextRun<'a>>,
}

#[derive(Serialize)]
struct TextRun<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_card_matches_sample_layout() {
        let card = adaptive_card_json("Hello \"world\"", None);
        assert!(card.starts_with("{\r\n  \"type\": \"AdaptiveCard\",\r\n  \"version\": \"1.0\""), "{card}");
        let parsed: Value = serde_json::from_str(&card).expect("card is JSON");
        assert_eq!(parsed["body"][0]["text"], "Hello \"world\"");
    }

    #[test]
    fn adaptive_card_rich_block_has_inlines() {
        let card = adaptive_card_json("Answer", Some("Q3 plan.docx"));
        let parsed: Value = serde_json::from_str(&card).expect("card is JSON");
        assert_eq!(parsed["body"][1]["type"], "RichTextBlock");
        assert_eq!(parsed["body"][1]["inlines"][1]["text"], "Q3 plan.docx");
    }

    #[test]
    fn mention_sets_one_identity() {
        let value = mention(0, "Zoë", "user", json!({ "id": "u1" }));
        assert_eq!(value["mentioned"]["user"]["id"], "u1");
        assert!(value["mentioned"]["tag"].is_null());
        assert_eq!(value["mentionId"], 0);
    }
}

//! The `body_text` column: the readable text of a message body.
//!
//! Copilot bodies come in three shapes. Prompts are mostly plain text, sometimes with an
//! `<attachment id="X"></attachment>` marker (raw, or HTML-escaped as `&lt;attachment …&gt;`)
//! that points at a meeting or file. Prompts with mentions are html (`<at id="0">Zoë</at>`).
//! BizChat responses are html bodies that contain only a marker; their text lives in the Adaptive
//! Card of the attachment with that id. The extraction resolves markers to card text, removes
//! the remaining markers and tags, decodes entities in html, and never fails: a card that is
//! not JSON, an unclosed tag or a missing attachment only yields less text.

use std::collections::HashMap;

use serde_json::Value;

use crate::graph::model::Attachment;

/// The content type of attachments that hold an Adaptive Card as a JSON string.
const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

/// Adaptive Card properties that hold child elements, in the order a reader sees them.
const CONTAINER_KEYS: [&str; 6] = ["body", "items", "columns", "rows", "cells", "pages"];

/// Elements whose start and end break the line, as a browser renders them.
const BLOCK_TAGS: [&str; 20] = [
    "address",
    "article",
    "blockquote",
    "dd",
    "div",
    "dl",
    "dt",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "li",
    "ol",
    "p",
    "pre",
    "tr",
];

/// The Adaptive Cards of a record's attachments, by attachment id, parsed on first use.
pub struct Cards<'a> {
    sources: HashMap<&'a str, &'a str>,
}

impl<'a> Cards<'a> {
    pub fn new(attachments: impl IntoIterator<Item = &'a Attachment>) -> Self {
        let sources = attachments
            .into_iter()
            .filter(|attachment| {
                attachment.content_type.as_deref().is_some_and(|kind| kind.eq_ignore_ascii_case(ADAPTIVE_CARD))
            })
            .filter_map(|attachment| Some((attachment.attachment_id.as_deref()?, attachment.content.as_deref()?)))
            .collect();
        Cards { sources }
    }

    /// Returns the text of the card with this attachment id; empty when there is no such card
    /// or it is not valid JSON.
    fn text(&self, attachment_id: &str) -> String {
        self.sources.get(attachment_id).map(|json| card_text(json)).unwrap_or_default()
    }
}

/// Returns the readable text of a body: html is turned into text, attachment markers are
/// replaced by the text of their card (or removed), and the result is trimmed. `None` when no
/// text remains.
pub fn body_text(content_type: Option<&str>, content: &str, cards: &Cards) -> Option<String> {
    let is_html = content_type.is_some_and(|kind| kind.eq_ignore_ascii_case("html"));
    let text = if is_html { html_to_text(content, cards) } else { plain_to_text(content, cards) };
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Resolves the markers of a plain-text body, raw or escaped, and keeps the rest as written.
fn plain_to_text(content: &str, cards: &Cards) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some((start, marker)) = find_marker(rest) {
        out.push_str(&rest[..start]);
        push_block(&mut out, &cards.text(&marker.attachment_id));
        rest = &rest[start + marker.len..];
    }
    out.push_str(rest);
    out
}

/// An `<attachment id="X"></attachment>` marker found in text.
struct Marker {
    attachment_id: String,
    /// Bytes from the marker's start to its end, the closing tag included.
    len: usize,
}

/// A spelling of attachment markers: raw, or HTML-escaped as text bodies sometimes hold them.
struct MarkerForm {
    /// The start of the opening tag up to the element name.
    start: &'static str,
    /// The end of the opening tag.
    close: &'static str,
    /// The whole closing tag.
    end_tag: &'static str,
}

const MARKER_FORMS: [MarkerForm; 2] = [
    MarkerForm { start: "<attachment", close: ">", end_tag: "</attachment>" },
    MarkerForm { start: "&lt;attachment", close: "&gt;", end_tag: "&lt;/attachment&gt;" },
];

/// Finds the first attachment marker in `text`, raw or escaped, and returns its byte offset.
fn find_marker(text: &str) -> Option<(usize, Marker)> {
    let mut search_from = 0;
    loop {
        let (start, form) = MARKER_FORMS
            .iter()
            .filter_map(|form| Some((search_from + find_ignore_case(&text[search_from..], form.start)?, form)))
            .min_by_key(|(at, _)| *at)?;
        match parse_marker(&text[start..], form) {
            Some(marker) => return Some((start, marker)),
            None => search_from = start + form.start.len(),
        }
    }
}

/// Parses a marker at the start of `text`, which starts with `form.start`.
fn parse_marker(text: &str, form: &MarkerForm) -> Option<Marker> {
    let after_name = &text[form.start.len()..];
    // `<attachments>` or `<attachmentx` is not a marker.
    let boundary = after_name.chars().next()?;
    if !(boundary.is_whitespace() || boundary == '/' || after_name.starts_with(form.close)) {
        return None;
    }
    let tag_end = after_name.find(form.close)?;
    let attributes = html_escape::decode_html_entities(&after_name[..tag_end]);
    let attachment_id = attribute(&attributes, "id").unwrap_or_default();

    let mut len = form.start.len() + tag_end + form.close.len();
    let gap = text[len..].len() - text[len..].trim_start().len();
    if starts_with_ignore_case(&text[len + gap..], form.end_tag) {
        len += gap + form.end_tag.len();
    }
    Some(Marker { attachment_id, len })
}

/// Returns the value of attribute `name` in the inside of a tag (`id="x" class='y'`).
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let mut rest = attributes;
    while let Some(at) = find_ignore_case(rest, name) {
        let preceded_by_space = rest[..at].chars().next_back().is_none_or(|c| c.is_whitespace() || c == '<');
        let after = rest[at + name.len()..].trim_start();
        if preceded_by_space && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
            return Some(match quote {
                Some(quote) => {
                    let inner = &value[1..];
                    inner[..inner.find(quote).unwrap_or(inner.len())].to_owned()
                }
                None => value.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("").to_owned(),
            });
        }
        rest = &rest[at + name.len()..];
    }
    None
}

/// Turns an html body into text: tags are removed, `<br>` and block elements break lines,
/// runs of whitespace collapse to one space, entities are decoded, and attachment markers
/// are replaced by the text of their card.
fn html_to_text(html: &str, cards: &Cards) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        push_html_text(&mut out, &rest[..at], cards);
        let tag_text = &rest[at..];
        match parse_tag(tag_text) {
            Some(tag) => {
                handle_tag(&mut out, &tag, cards);
                rest = &tag_text[tag.len..];
                if tag.skips_content() {
                    rest = skip_element_content(rest, tag.name);
                }
            }
            None => {
                // A `<` that starts no tag is text, as in a browser.
                push_html_text(&mut out, "<", cards);
                rest = &tag_text[1..];
            }
        }
    }
    push_html_text(&mut out, rest, cards);
    out
}

/// One parsed tag: `<name …>`, `</name>` or a comment.
struct Tag<'t> {
    /// The element name as written; empty for comments and declarations.
    name: &'t str,
    closing: bool,
    /// The text inside the angle brackets after the name.
    attributes: &'t str,
    /// Bytes of the tag in the source.
    len: usize,
}

impl Tag<'_> {
    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    fn skips_content(&self) -> bool {
        !self.closing && (self.is("script") || self.is("style"))
    }
}

/// Parses the tag at the start of `text` (which starts with `<`). `None` when the `<` starts
/// no tag: no letter, `/` or `!` follows it, or the tag never closes.
fn parse_tag(text: &str) -> Option<Tag<'_>> {
    let inside = &text[1..];
    if let Some(comment) = inside.strip_prefix("!--") {
        let end = comment.find("-->").map_or(text.len(), |at| 1 + 3 + at + 3);
        return Some(Tag { name: "", closing: false, attributes: "", len: end });
    }
    let (closing, name_start) = match inside.strip_prefix('/') {
        Some(after) => (true, after),
        None => (false, inside),
    };
    let first = name_start.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '!' || first == '?') {
        return None;
    }
    let name_len =
        name_start.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':')).unwrap_or(name_start.len());
    let name = &name_start[..name_len];
    let after_name = &name_start[name_len..];
    let end = tag_end(after_name)?;
    let len = text.len() - after_name.len() + end + 1;
    Some(Tag { name, closing, attributes: &after_name[..end], len })
}

/// Returns the offset of the `>` that ends a tag, skipping `>` inside quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '>') => return Some(at),
            _ => {}
        }
    }
    None
}

fn handle_tag(out: &mut String, tag: &Tag, cards: &Cards) {
    if tag.is("attachment") {
        if !tag.closing {
            let id = attribute(tag.attributes, "id").unwrap_or_default();
            push_block(out, &cards.text(&html_escape::decode_html_entities(&id)));
        }
    } else if tag.is("br") || BLOCK_TAGS.iter().any(|block| tag.is(block)) {
        push_line_break(out);
    }
}

/// Skips the content of a `<script>` or `<style>` element up to and including its end tag.
fn skip_element_content<'t>(text: &'t str, name: &str) -> &'t str {
    let end_tag = format!("</{name}");
    match find_ignore_case(text, &end_tag) {
        Some(at) => {
            let after = &text[at..];
            after.find('>').map_or("", |close| &after[close + 1..])
        }
        None => "",
    }
}

/// Appends html text: entities decoded, whitespace collapsed, and markers that were escaped
/// in the source (so are text now) resolved.
fn push_html_text(out: &mut String, html_text: &str, cards: &Cards) {
    if html_text.is_empty() {
        return;
    }
    let decoded = html_escape::decode_html_entities(html_text);
    let mut rest: &str = &decoded;
    while let Some((start, marker)) = find_marker(rest) {
        push_collapsed(out, &rest[..start]);
        push_block(out, &cards.text(&marker.attachment_id));
        rest = &rest[start + marker.len..];
    }
    push_collapsed(out, rest);
}

/// Appends text with each run of whitespace as one space, and none at the start of a line.
fn push_collapsed(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_ascii_whitespace() {
            let at_line_start = out.is_empty() || out.ends_with('\n');
            if !at_line_start && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
}

/// Ends the current line, unless it is empty; trailing spaces are dropped.
fn push_line_break(out: &mut String) {
    let without_spaces = out.trim_end_matches(' ').len();
    out.truncate(without_spaces);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Appends text as lines of its own.
fn push_block(out: &mut String, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    push_line_break(out);
    out.push_str(text);
    out.push('\n');
}

/// Returns the text of an Adaptive Card: the text of its `TextBlock`s and of the `TextRun`s of
/// its `RichTextBlock`s, one block a line, in reading order. Card text is markdown and stays so.
/// A card that is not valid JSON has no text.
pub fn card_text(card_json: &str) -> String {
    let Ok(card) = serde_json::from_str::<Value>(card_json) else {
        return String::new();
    };
    let mut blocks = Vec::new();
    collect_blocks(&card, &mut blocks);
    // Copilot cards repeat the response text in a `TextBlock` with id `MessageTextField`, in
    // another citation format, after the block that contains it with links.
    // NOTE: that reading of `MessageTextField` rests on the one public card sample that has it.
    if blocks.len() > 1 && blocks.iter().any(|block| !block.is_message_field) {
        blocks.retain(|block| !block.is_message_field);
    }
    let texts: Vec<&str> = blocks.iter().map(|block| block.text.trim()).filter(|text| !text.is_empty()).collect();
    texts.join("\n")
}

struct TextBlock {
    text: String,
    is_message_field: bool,
}

/// Collects the text elements of `element` and its children, depth first.
fn collect_blocks(element: &Value, blocks: &mut Vec<TextBlock>) {
    match element {
        Value::Array(items) => items.iter().for_each(|item| collect_blocks(item, blocks)),
        Value::Object(object) => {
            match object.get("type").and_then(Value::as_str) {
                Some("TextBlock") => {
                    if let Some(text) = object.get("text").and_then(Value::as_str) {
                        let is_message_field = object.get("id").and_then(Value::as_str) == Some("MessageTextField");
                        blocks.push(TextBlock { text: text.to_owned(), is_message_field });
                    }
                }
                Some("RichTextBlock") => {
                    let text = rich_text(object.get("inlines"));
                    blocks.push(TextBlock { text, is_message_field: false });
                }
                _ => {}
            }
            for key in CONTAINER_KEYS {
                if let Some(children) = object.get(key) {
                    collect_blocks(children, blocks);
                }
            }
        }
        _ => {}
    }
}

/// Joins the inlines of a `RichTextBlock`: `TextRun` objects and bare strings.
fn rich_text(inlines: Option<&Value>) -> String {
    let Some(Value::Array(inlines)) = inlines else {
        return String::new();
    };
    inlines
        .iter()
        .filter_map(|inline| match inline {
            Value::String(text) => Some(text.as_str()),
            Value::Object(run) => run.get("text").and_then(Value::as_str),
            _ => None,
        })
        .collect()
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    let needle = needle.as_bytes();
    haystack.as_bytes().windows(needle.len()).position(|window| window.eq_ignore_ascii_case(needle))
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes().get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_attachment(id: &str, content: &str) -> Attachment {
        Attachment {
            attachment_id: Some(id.into()),
            content_type: Some(ADAPTIVE_CARD.into()),
            content_url: None,
            content: Some(content.into()),
            name: None,
        }
    }

    fn text_of(content_type: &str, content: &str, attachments: &[Attachment]) -> Option<String> {
        body_text(Some(content_type), content, &Cards::new(attachments))
    }

    #[test]
    fn html_marker_takes_card_text() {
        let card = r#"{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Hello **you**"}]}"#;
        let attachments = [card_attachment("a1", card)];
        assert_eq!(
            text_of("html", r#"<attachment id="a1"></attachment>"#, &attachments).as_deref(),
            Some("Hello **you**")
        );
    }

    #[test]
    fn card_containers_are_read_in_order() {
        let card = r#"{"type":"AdaptiveCard","body":[
            {"type":"Container","items":[{"type":"TextBlock","text":"one"}]},
            {"type":"ColumnSet","columns":[
                {"type":"Column","items":[{"type":"TextBlock","text":"two"}]},
                {"type":"Column","items":[{"type":"RichTextBlock","inlines":[
                    {"type":"TextRun","text":"thr"},"ee"]}]}]},
            {"type":"ActionSet","actions":[{"type":"Action.ShowCard","card":{"body":[{"type":"TextBlock","text":"hidden"}]}}]}
        ]}"#;
        assert_eq!(card_text(card), "one\ntwo\nthree");
    }

    #[test]
    fn message_field_repeat_is_dropped() {
        let card = r#"{"body":[{"type":"TextBlock","text":"[a](http://x) b"},
            {"type":"TextBlock","id":"MessageTextField","text":"a[1] b"}]}"#;
        assert_eq!(card_text(card), "[a](http://x) b");
        let alone = r#"{"body":[{"type":"TextBlock","id":"MessageTextField","text":"only"}]}"#;
        assert_eq!(card_text(alone), "only");
    }

    #[test]
    fn malformed_cards_give_no_text() {
        for card in ["", "not json", "{\"body\":", "[1,2]", "{\"body\":{\"type\":\"TextBlock\",\"text\":7}}", "null"] {
            assert_eq!(card_text(card), "", "{card:?}");
        }
        let deep = "[".repeat(100_000);
        assert_eq!(card_text(&deep), "");
        let attachments = [card_attachment("a1", "{oops")];
        assert_eq!(text_of("html", r#"<attachment id="a1"></attachment>"#, &attachments), None);
    }

    #[test]
    fn plain_text_markers_are_removed() {
        let raw = r#"what was this meeting about?<attachment id="19:meeting_x@thread.v2"></attachment>"#;
        assert_eq!(text_of("text", raw, &[]).as_deref(), Some("what was this meeting about?"));
        let escaped = r#"what was this meeting about?&lt;attachment id="19:m"&gt;&lt;/attachment&gt;"#;
        assert_eq!(text_of("text", escaped, &[]).as_deref(), Some("what was this meeting about?"));
        let quoted = "a &lt;attachment id=&quot;x&quot;&gt;&lt;/attachment&gt; b";
        assert_eq!(text_of("text", quoted, &[]).as_deref(), Some("a  b"));
    }

    #[test]
    fn plain_text_keeps_angle_brackets_and_entities() {
        let text = "Is 3 < 4 and <div> a tag? AT&amp;T <attachments>";
        assert_eq!(text_of("text", text, &[]).as_deref(), Some(text));
    }

    #[test]
    fn html_tags_and_entities() {
        let html = "<p>Hi&nbsp;<at id=\"0\">Zo&euml;</at>,</p><p>a&lt;b &amp;&#233;&#x1F389;<br/>next</p>";
        assert_eq!(text_of("html", html, &[]).as_deref(), Some("Hi\u{a0}Zoë,\na<b &é🎉\nnext"));
        let spaced = "  <div>one\n   two</div>\n\n<div>three</div> ";
        assert_eq!(text_of("html", spaced, &[]).as_deref(), Some("one two\nthree"));
    }

    #[test]
    fn escaped_marker_in_html_is_removed() {
        let html = "question &lt;attachment id=\"m\"&gt;&lt;/attachment&gt;";
        assert_eq!(text_of("html", html, &[]).as_deref(), Some("question"));
    }

    #[test]
    fn malformed_html_keeps_text() {
        assert_eq!(text_of("html", "a < b", &[]).as_deref(), Some("a < b"));
        assert_eq!(text_of("html", "a <b", &[]).as_deref(), Some("a <b"));
        assert_eq!(text_of("html", "x<!-- never closed", &[]).as_deref(), Some("x"));
        assert_eq!(text_of("html", "<b title=\"a>b\">bold</b>", &[]).as_deref(), Some("bold"));
        assert_eq!(text_of("html", "<script>alert(1)</script>ok<style>p{}", &[]).as_deref(), Some("ok"));
        assert_eq!(text_of("html", "<attachment id=\"x\"", &[]).as_deref(), Some("<attachment id=\"x\""));
        assert_eq!(text_of("html", "&lt;attachment id=\"x\"", &[]).as_deref(), Some("<attachment id=\"x\""));
        assert_eq!(text_of("html", "é<é>ü</", &[]).as_deref(), Some("é<é>ü</"));
    }

    #[test]
    fn empty_bodies_have_no_text() {
        assert_eq!(text_of("html", "", &[]), None);
        assert_eq!(text_of("html", "<attachment id=\"missing\"></attachment>", &[]), None);
        assert_eq!(text_of("text", "   ", &[]), None);
    }

    #[test]
    fn other_attachment_types_give_no_text() {
        let mut attachment = card_attachment("a1", r#"{"body":[{"type":"TextBlock","text":"x"}]}"#);
        attachment.content_type = Some("reference".into());
        assert_eq!(text_of("html", "<attachment id=\"a1\"></attachment>", &[attachment]), None);
    }

    #[test]
    fn marker_attribute_forms() {
        let attachments = [card_attachment("a 1", r#"{"body":[{"type":"TextBlock","text":"card"}]}"#)];
        for html in [
            "<ATTACHMENT ID='a 1'/>",
            "<attachment data-x=\"1\" id=\"a 1\">  </attachment>",
            "<attachment id=\"a&#32;1\"></attachment>",
        ] {
            assert_eq!(text_of("html", html, &attachments).as_deref(), Some("card"), "{html}");
        }
    }
}

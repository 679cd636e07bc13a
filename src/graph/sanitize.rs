//! Two repairs on JSON text from Graph: lone UTF-16 surrogate escapes, which serde_json refuses
//! for a whole page, and record values quoted in serde's error messages, which must not reach
//! logs because a value can be prompt text.

use std::borrow::Cow;

/// The escape that replaces a lone surrogate: U+FFFD REPLACEMENT CHARACTER. It has the same
/// length as every `\uXXXX` escape, so the repair keeps all byte offsets.
const REPLACEMENT_ESCAPE: &[u8; 6] = b"\\ufffd";

/// Replaces every `\uD800`–`\uDFFF` escape inside a JSON string that is not half of a valid
/// surrogate pair with `\ufffd`, and returns the text with the number of replacements.
///
/// Graph serializes UTF-16 strings, so a string cut in the middle of an emoji arrives with a
/// lone surrogate escape. JSON's grammar allows it, but it is no Unicode scalar value, so
/// serde_json rejects the whole page. Decoders of UTF-16 do the same replacement. Escapes with
/// invalid hex digits and bytes outside strings are left for the JSON parser to reject.
pub fn repair_lone_surrogates(input: &[u8]) -> (Cow<'_, [u8]>, usize) {
    if !may_hold_surrogate_escape(input) {
        return (Cow::Borrowed(input), 0);
    }
    let mut repaired: Option<Vec<u8>> = None;
    let mut count = 0;
    let mut in_string = false;
    let mut index = 0;
    while index < input.len() {
        let byte = input[index];
        if !in_string {
            in_string = byte == b'"';
            index += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = false;
                index += 1;
            }
            b'\\' => match unicode_escape(input, index) {
                Some(unit)
                    if is_high_surrogate(unit) && unicode_escape(input, index + 6).is_some_and(is_low_surrogate) =>
                {
                    index += 12;
                }
                Some(unit) if is_high_surrogate(unit) || is_low_surrogate(unit) => {
                    let output = repaired.get_or_insert_with(|| input.to_vec());
                    output[index..index + 6].copy_from_slice(REPLACEMENT_ESCAPE);
                    count += 1;
                    index += 6;
                }
                Some(_) => index += 6,
                // Any other escape is two bytes; this also steps over `\"`, which does not end the string.
                None => index += 2,
            },
            _ => index += 1,
        }
    }
    match repaired {
        Some(bytes) => (Cow::Owned(bytes), count),
        None => (Cow::Borrowed(input), 0),
    }
}

/// Tells whether `input` contains `\uD` or `\ud`, which every surrogate escape starts with.
/// Most pages contain none, so memchr's vectorized search spares them the byte-by-byte walk
/// through their strings. A match may be no escape (`\\ud` is an escaped backslash), which
/// only costs the walk.
fn may_hold_surrogate_escape(input: &[u8]) -> bool {
    memchr::memmem::find_iter(input, b"\\u").any(|at| matches!(input.get(at + 2), Some(b'd' | b'D')))
}

/// Returns the code unit of a `\uXXXX` escape starting at `at`, if one starts there.
fn unicode_escape(input: &[u8], at: usize) -> Option<u16> {
    let escape = input.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

/// Removes the values that serde quotes in its messages, such as `invalid type: string "…",
/// expected i32`, keeping the message's shape: `invalid type: string (redacted), expected i32`.
/// Characters in backquotes (`` character `x` ``) go too. Numbers and booleans stay, because
/// they carry no text.
pub fn redact_values(message: &str) -> String {
    let mut output = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let string_at = rest.find("string \"");
        let char_at = rest.find("character `");
        let (at, quoted) = match (string_at, char_at) {
            (Some(s), Some(c)) if c < s => (c + "character ".len(), Quote::Backquote),
            (Some(s), _) => (s + "string ".len(), Quote::Debug),
            (None, Some(c)) => (c + "character ".len(), Quote::Backquote),
            (None, None) => break,
        };
        output.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = quoted.closing(after) else {
            // An unterminated quote: drop everything after it rather than risk showing a value.
            output.push_str("(redacted)");
            return output;
        };
        output.push_str("(redacted)");
        rest = &after[end + 1..];
    }
    output.push_str(rest);
    output
}

#[derive(Clone, Copy)]
enum Quote {
    /// A Rust `{:?}` string: `"` inside it is escaped as `\"`.
    Debug,
    /// serde's `` `x` `` for one character, which may itself be a backquote.
    Backquote,
}

impl Quote {
    /// Returns the byte offset of the closing quote in `text`, which starts after the opening one.
    fn closing(self, text: &str) -> Option<usize> {
        match self {
            Quote::Debug => {
                let mut escaped = false;
                for (offset, byte) in text.bytes().enumerate() {
                    match byte {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'"' => return Some(offset),
                        _ => {}
                    }
                }
                None
            }
            Quote::Backquote => {
                let first = text.chars().next()?;
                let offset = first.len_utf8();
                text[offset..].starts_with('`').then_some(offset)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repair(text: &str) -> (String, usize) {
        let (bytes, count) = repair_lone_surrogates(text.as_bytes());
        (String::from_utf8(bytes.into_owned()).expect("UTF-8 stays UTF-8"), count)
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(repair(r#"{"a":"x\ud800y"}"#), (r#"{"a":"x\ufffdy"}"#.into(), 1));
        assert_eq!(repair(r#"{"a":"\uDC00"}"#), (r#"{"a":"\ufffd"}"#.into(), 1));
        assert_eq!(repair(r#"{"a":"\ud83d"}"#), (r#"{"a":"\ufffd"}"#.into(), 1));
        assert_eq!(repair(r#"["\ud800\ud800\udc00"]"#), (r#"["\ufffd\ud800\udc00"]"#.into(), 1));
    }

    #[test]
    fn valid_text_is_borrowed_unchanged() {
        for text in
            [r#"{"a":"\ud83d\ude00 smile"}"#, r#"{"a":"\\ud800 is an escaped backslash"}"#, r#"{"a":"\u00e9\n"}"#, ""]
        {
            let (bytes, count) = repair_lone_surrogates(text.as_bytes());
            assert!(matches!(bytes, Cow::Borrowed(_)), "{text}");
            assert_eq!(count, 0, "{text}");
        }
    }

    #[test]
    fn escaped_quote_keeps_the_string_open() {
        assert_eq!(repair(r#"{"a":"\"\ud800"}"#), (r#"{"a":"\"\ufffd"}"#.into(), 1));
    }

    #[test]
    fn repaired_page_parses() {
        let (bytes, _) = repair_lone_surrogates(br#"{"value":["cut emoji \ud83d"]}"#);
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("valid after repair");
        assert_eq!(value["value"][0], "cut emoji \u{fffd}");
    }

    #[test]
    fn truncated_escape_is_left_alone() {
        assert_eq!(repair(r#"{"a":"\ud8"#), (r#"{"a":"\ud8"#.into(), 0));
    }

    #[test]
    fn quoted_strings_are_redacted() {
        let message = r#"invalid type: string "my \"secret\" prompt", expected i32 at line 1 column 9"#;
        assert_eq!(redact_values(message), "invalid type: string (redacted), expected i32 at line 1 column 9");
    }

    #[test]
    fn characters_are_redacted_and_numbers_kept() {
        assert_eq!(
            redact_values("invalid type: character `x`, expected a string"),
            "invalid type: character (redacted), expected a string"
        );
        assert_eq!(
            redact_values("invalid type: character ```, expected a string"),
            "invalid type: character (redacted), expected a string"
        );
        assert_eq!(
            redact_values("invalid type: integer `42`, expected a string"),
            "invalid type: integer `42`, expected a string"
        );
    }

    #[test]
    fn unterminated_quote_drops_the_tail() {
        assert_eq!(redact_values(r#"invalid value: string "abc"#), "invalid value: string (redacted)");
    }
}

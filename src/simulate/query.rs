//! Parsing of the OData query options the simulated endpoints accept: `$filter`, `$top`,
//! `$skiptoken`, and the links to next pages.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chrono::{DateTime, Utc};

use super::dataset::SimRecord;
use super::errors::GraphError;

/// The query string of a request as name/value pairs, percent-decoded, in request order.
#[derive(Debug, Default)]
pub(super) struct QueryOptions {
    pairs: Vec<(String, String)>,
}

impl QueryOptions {
    /// Parses a raw query string. A system query option (`$…`) given twice is an error in OData.
    pub fn parse(raw: Option<&str>) -> Result<Self, GraphError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        for (index, (name, _)) in pairs.iter().enumerate() {
            let repeated = pairs[..index].iter().any(|(earlier, _)| earlier == name);
            if name.starts_with('$') && repeated {
                return Err(GraphError::bad_request(format!(
                    "Query option '{name}' was specified more than once, but it must be specified at most once."
                )));
            }
        }
        Ok(QueryOptions { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Rejects system query options (`$…`) outside `allowed`. Other parameters are ignored.
    pub fn reject_unsupported(&self, allowed: &[&str]) -> Result<(), GraphError> {
        match self.pairs.iter().find(|(name, _)| name.starts_with('$') && !allowed.contains(&name.as_str())) {
            Some((name, _)) => Err(GraphError::bad_request(format!("Query option '{name}' is not allowed."))),
            None => Ok(()),
        }
    }

    /// Returns the pairs named in `names`, in request order, to carry into a next link.
    pub fn carried(&self, names: &[&str]) -> Vec<(&str, &str)> {
        self.pairs
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }
}

/// Parses `$top`: an integer in 1..=`max`, or `default` when absent.
pub(super) fn parse_top(value: Option<&str>, default: usize, max: usize) -> Result<usize, GraphError> {
    let Some(text) = value else {
        return Ok(default);
    };
    let top: usize = text
        .trim()
        .parse()
        .map_err(|_| GraphError::bad_request(format!("Invalid value '{text}' for query option '$top'.")))?;
    if top == 0 || top > max {
        return Err(GraphError::bad_request(format!(
            "Invalid page size specified: '{top}'. Must be between 1 and {max} inclusive."
        )));
    }
    Ok(top)
}

/// A parsed `$filter` of getAllEnterpriseInteractions.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct InteractionFilter {
    /// Records must be created strictly after this.
    pub after: Option<DateTime<Utc>>,
    /// Records must be created strictly before this.
    pub before: Option<DateTime<Utc>>,
    /// Each group is an `or` of `appClass eq` values, and a record must match every group.
    pub app_class_groups: Vec<Vec<String>>,
}

impl InteractionFilter {
    /// Parses a conjunction of `createdDateTime gt|lt <timestamp>` clauses and `appClass eq '…'`
    /// groups joined by `or`. Filters on `sessionId` or `requestId` get Graph's 400 that names
    /// the property, and any other shape gets "Invalid filter clause".
    pub fn parse(text: &str) -> Result<Self, GraphError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, position: 0 };
        let expression = parser.parse_or()?;
        if parser.position != parser.tokens.len() {
            return Err(GraphError::invalid_filter());
        }
        reject_unfilterable(&expression)?;

        let mut filter = InteractionFilter::default();
        let mut conjuncts = Vec::new();
        flatten_and(expression, &mut conjuncts);
        for conjunct in conjuncts {
            filter.add_conjunct(conjunct)?;
        }
        Ok(filter)
    }

    /// Graph fails with 500 when a `createdDateTime` filter has only one bound.
    pub fn check_bounds(&self) -> Result<(), GraphError> {
        if self.after.is_some() != self.before.is_some() {
            return Err(GraphError::single_bound());
        }
        Ok(())
    }

    pub fn matches(&self, record: &SimRecord) -> bool {
        self.after.is_none_or(|after| record.created > after)
            && self.before.is_none_or(|before| record.created < before)
            && self.app_class_groups.iter().all(|group| group.contains(&record.app_class))
    }

    fn add_conjunct(&mut self, conjunct: Expression) -> Result<(), GraphError> {
        if let Expression::Compare { property, operator, value } = &conjunct
            && property.eq_ignore_ascii_case("createdDateTime")
        {
            let Value::Bare(text) = value else {
                return Err(GraphError::invalid_filter());
            };
            let bound = DateTime::parse_from_rfc3339(text).map_err(|_| GraphError::invalid_filter())?.to_utc();
            // Several bounds on one side narrow the window, as a conjunction does.
            match operator.as_str() {
                "gt" => self.after = Some(self.after.map_or(bound, |after| after.max(bound))),
                "lt" => self.before = Some(self.before.map_or(bound, |before| before.min(bound))),
                other => return Err(not_allowed("createdDateTime", other)),
            }
            return Ok(());
        }
        let mut group = Vec::new();
        collect_app_classes(conjunct, &mut group)?;
        self.app_class_groups.push(group);
        Ok(())
    }
}

/// Collects the values of an `or` of `appClass eq '…'` comparisons.
fn collect_app_classes(expression: Expression, group: &mut Vec<String>) -> Result<(), GraphError> {
    match expression {
        Expression::Or(items) => items.into_iter().try_for_each(|item| collect_app_classes(item, group)),
        Expression::Compare { property, operator, value } if property.eq_ignore_ascii_case("appClass") => {
            match (operator.as_str(), value) {
                ("eq", Value::Quoted(app_class)) => {
                    group.push(app_class);
                    Ok(())
                }
                ("eq", Value::Bare(_)) => Err(GraphError::invalid_filter()),
                (other, _) => Err(not_allowed("appClass", other)),
            }
        }
        _ => Err(GraphError::invalid_filter()),
    }
}

/// Rejects any comparison on `sessionId` or `requestId`, wherever it appears.
fn reject_unfilterable(expression: &Expression) -> Result<(), GraphError> {
    match expression {
        Expression::And(items) | Expression::Or(items) => items.iter().try_for_each(reject_unfilterable),
        Expression::Compare { property, operator, .. } => {
            for name in ["sessionId", "requestId"] {
                if property.eq_ignore_ascii_case(name) {
                    return Err(not_allowed(name, operator));
                }
            }
            Ok(())
        }
    }
}

fn not_allowed(property: &str, operator: &str) -> GraphError {
    match operation_kind(operator) {
        Some(kind) => GraphError::filter_not_allowed(property, kind),
        None => GraphError::invalid_filter(),
    }
}

/// Returns the OData name of a comparison operator, as Graph's messages use it.
fn operation_kind(operator: &str) -> Option<&'static str> {
    Some(match operator {
        "eq" => "Equal",
        "ne" => "NotEqual",
        "gt" => "GreaterThan",
        "ge" => "GreaterThanOrEqual",
        "lt" => "LessThan",
        "le" => "LessThanOrEqual",
        _ => return None,
    })
}

fn flatten_and(expression: Expression, conjuncts: &mut Vec<Expression>) {
    match expression {
        Expression::And(items) => items.into_iter().for_each(|item| flatten_and(item, conjuncts)),
        other => conjuncts.push(other),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// An unquoted literal such as a timestamp.
    Bare(String),
    /// A string literal, without its quotes.
    Quoted(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Expression {
    And(Vec<Expression>),
    Or(Vec<Expression>),
    Compare { property: String, operator: String, value: Value },
}

fn tokenize(text: &str) -> Result<Vec<Token>, GraphError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&next) = chars.peek() {
        match next {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if next == '(' { Token::Open } else { Token::Close });
            }
            '\'' => {
                chars.next();
                tokens.push(Token::Quoted(read_quoted(&mut chars)?));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '\'') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// Reads an OData string literal after its opening quote; `''` inside it is one quote.
fn read_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, GraphError> {
    let mut literal = String::new();
    loop {
        match chars.next() {
            Some('\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                literal.push('\'');
            }
            Some('\'') => return Ok(literal),
            Some(c) => literal.push(c),
            None => return Err(GraphError::invalid_filter()),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn parse_or(&mut self) -> Result<Expression, GraphError> {
        let mut items = vec![self.parse_and()?];
        while self.take_keyword("or") {
            items.push(self.parse_and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expression::Or(items) })
    }

    fn parse_and(&mut self) -> Result<Expression, GraphError> {
        let mut items = vec![self.parse_primary()?];
        while self.take_keyword("and") {
            items.push(self.parse_primary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expression::And(items) })
    }

    fn parse_primary(&mut self) -> Result<Expression, GraphError> {
        if self.tokens.get(self.position) == Some(&Token::Open) {
            self.position += 1;
            let inner = self.parse_or()?;
            if self.tokens.get(self.position) != Some(&Token::Close) {
                return Err(GraphError::invalid_filter());
            }
            self.position += 1;
            return Ok(inner);
        }
        let property = self.take_word()?;
        let operator = self.take_word()?;
        let value = match self.tokens.get(self.position).cloned() {
            Some(Token::Word(word)) => Value::Bare(word),
            Some(Token::Quoted(text)) => Value::Quoted(text),
            _ => return Err(GraphError::invalid_filter()),
        };
        self.position += 1;
        Ok(Expression::Compare { property, operator, value })
    }

    fn take_word(&mut self) -> Result<String, GraphError> {
        match self.tokens.get(self.position) {
            Some(Token::Word(word)) => {
                self.position += 1;
                Ok(word.clone())
            }
            _ => Err(GraphError::invalid_filter()),
        }
    }

    fn take_keyword(&mut self, keyword: &str) -> bool {
        let found = matches!(self.tokens.get(self.position), Some(Token::Word(word)) if word == keyword);
        if found {
            self.position += 1;
        }
        found
    }
}

/// Parses the users filter `assignedLicenses/any(x:x/skuId eq <GUID>)` and returns the SKU id,
/// lowercased. Any lambda variable name works, as in OData.
pub(super) fn parse_license_filter(text: &str) -> Result<String, GraphError> {
    let unsupported = || {
        GraphError::bad_request(format!(
            "Invalid filter clause '{text}'. The simulator supports only assignedLicenses/any(x:x/skuId eq <SKU id>) on users."
        ))
    };
    let trimmed = text.trim();
    let prefix = "assignedLicenses/any(";
    if trimmed.len() < prefix.len() || !trimmed[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return Err(unsupported());
    }
    let lambda = trimmed[prefix.len()..].strip_suffix(')').ok_or_else(unsupported)?;
    let (variable, condition) = lambda.split_once(':').ok_or_else(unsupported)?;
    let words: Vec<&str> = condition.split_whitespace().collect();
    let [property, "eq", sku] = words.as_slice() else {
        return Err(unsupported());
    };
    let expected_property = format!("{}/skuId", variable.trim());
    if !property.eq_ignore_ascii_case(&expected_property) || !is_guid(sku) {
        return Err(unsupported());
    }
    Ok(sku.to_ascii_lowercase())
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    lengths == [8, 4, 4, 4, 12] && groups.iter().all(|group| group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The position a `$skiptoken` encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SkipToken {
    /// An offset into the matching records of getAllEnterpriseInteractions.
    Interactions(usize),
    /// An offset into the matching users.
    Users(usize),
    /// The index of a raw page.
    RawPage(usize),
}

/// The mailbox folder that Graph names in its skip tokens for Copilot interactions.
const INTERACTIONS_FOLDER: &str = "#MailboxFolder=MailFolders/TeamsMessagesData";

impl SkipToken {
    /// Encodes the token as base64 of `SkipValue=<offset>#MailboxFolder=…` (as Graph does for
    /// interactions), `UsersSkipValue=<offset>` or `RawPage=<index>`.
    pub fn encode(self) -> String {
        let text = match self {
            SkipToken::Interactions(offset) => format!("SkipValue={offset}{INTERACTIONS_FOLDER}"),
            SkipToken::Users(offset) => format!("UsersSkipValue={offset}"),
            SkipToken::RawPage(index) => format!("RawPage={index}"),
        };
        STANDARD.encode(text)
    }

    pub fn decode(token: &str) -> Result<SkipToken, GraphError> {
        let invalid = || GraphError::bad_request(format!("Invalid $skiptoken '{token}'."));
        let bytes = STANDARD
            .decode(token.trim())
            .or_else(|_| STANDARD_NO_PAD.decode(token.trim().trim_end_matches('=')))
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let parse = |number: &str| number.parse::<usize>().map_err(|_| invalid());
        if let Some(rest) = text.strip_prefix("SkipValue=") {
            let offset = rest.strip_suffix(INTERACTIONS_FOLDER).ok_or_else(invalid)?;
            return Ok(SkipToken::Interactions(parse(offset)?));
        }
        if let Some(offset) = text.strip_prefix("UsersSkipValue=") {
            return Ok(SkipToken::Users(parse(offset)?));
        }
        if let Some(index) = text.strip_prefix("RawPage=") {
            return Ok(SkipToken::RawPage(parse(index)?));
        }
        Err(invalid())
    }
}

/// Builds an absolute next link: `http://{host}{path}?` with each parameter's value
/// percent-encoded as in `application/x-www-form-urlencoded` (as Graph's links are), and the
/// `$` of option names kept literal.
pub(super) fn next_link(host: &str, path: &str, parameters: &[(&str, &str)]) -> String {
    let query: Vec<String> = parameters
        .iter()
        .map(|(name, value)| {
            format!("{name}={}", url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>())
        })
        .collect();
    format!("http://{host}{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test timestamp").to_utc()
    }

    fn record(created: &str, app_class: &str) -> SimRecord {
        SimRecord { created: at(created), app_class: app_class.into(), json: serde_json::Value::Null }
    }

    const WORD: &str = "IPM.SkypeTeams.Message.Copilot.Word";
    const CHAT: &str = "IPM.SkypeTeams.Message.Copilot.BizChat";

    #[test]
    fn filter_parses_both_bounds() {
        let filter = InteractionFilter::parse(
            "createdDateTime gt 2024-09-09T16:48:35Z and createdDateTime lt 2024-11-15T21:48:35.1234567Z",
        )
        .expect("valid filter");
        assert_eq!(filter.after, Some(at("2024-09-09T16:48:35Z")));
        assert_eq!(filter.before, Some(at("2024-11-15T21:48:35.1234567Z")));
        assert!(filter.check_bounds().is_ok());
    }

    #[test]
    fn bounds_are_strict() {
        let filter = InteractionFilter::parse(
            "createdDateTime gt 2024-10-01T00:00:00Z and createdDateTime lt 2024-10-02T00:00:00Z",
        )
        .expect("valid filter");
        assert!(!filter.matches(&record("2024-10-01T00:00:00Z", WORD)));
        assert!(filter.matches(&record("2024-10-01T00:00:00.0000001Z", WORD)));
        assert!(filter.matches(&record("2024-10-01T23:59:59.9999999Z", WORD)));
        assert!(!filter.matches(&record("2024-10-02T00:00:00Z", WORD)));
    }

    #[test]
    fn single_bound_fails_with_500() {
        for text in ["createdDateTime gt 2024-10-01T00:00:00Z", "createdDateTime lt 2024-10-01T00:00:00Z"] {
            let filter = InteractionFilter::parse(text).expect("parses");
            let error = filter.check_bounds().expect_err("single bound");
            assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(error.message, "Failed to execute request.");
        }
    }

    #[test]
    fn app_class_groups_with_dates() {
        let text = format!(
            "createdDateTime gt 2024-10-01T00:00:00Z and (appClass eq '{WORD}' or appClass eq '{CHAT}') and createdDateTime lt 2024-10-03T00:00:00Z"
        );
        let filter = InteractionFilter::parse(&text).expect("valid filter");
        assert_eq!(filter.app_class_groups, vec![vec![WORD.to_owned(), CHAT.to_owned()]]);
        assert!(filter.matches(&record("2024-10-02T00:00:00Z", CHAT)));
        assert!(!filter.matches(&record("2024-10-02T00:00:00Z", "IPM.SkypeTeams.Message.Copilot.Teams")));

        let bare =
            InteractionFilter::parse(&format!("appClass eq '{WORD}' or appClass eq '{CHAT}'")).expect("valid filter");
        assert_eq!(bare.app_class_groups[0].len(), 2);
        assert!(bare.check_bounds().is_ok());
    }

    #[test]
    fn session_and_request_ids_are_rejected() {
        let cases = [
            (
                "sessionId eq '19:abc@thread.v2'",
                "The entity property 'sessionId' and operationKind 'Equal' is not allowed in $filter query.",
            ),
            (
                "requestId ne 'x'",
                "The entity property 'requestId' and operationKind 'NotEqual' is not allowed in $filter query.",
            ),
            (
                "createdDateTime gt 2024-10-01T00:00:00Z and (appClass eq 'a' or sessionId eq 'b')",
                "The entity property 'sessionId' and operationKind 'Equal' is not allowed in $filter query.",
            ),
        ];
        for (text, message) in cases {
            let error = InteractionFilter::parse(text).expect_err(text);
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{text}");
            assert_eq!(error.code, "BadRequest");
            assert_eq!(error.message, message, "{text}");
        }
    }

    #[test]
    fn malformed_filters_are_invalid_clauses() {
        let cases = [
            "createdDateTime gt '2024-10-01T00:00:00Z' and createdDateTime lt 2024-10-02T00:00:00Z",
            "createdDateTime gt yesterday",
            "appClass eq 'unterminated",
            "(appClass eq 'a'",
            "appClass eq 'a' extra",
            "interactionType eq 'userPrompt'",
            "createdDateTime gt 2024-10-01T00:00:00Z or appClass eq 'a'",
            "",
        ];
        for text in cases {
            let error = InteractionFilter::parse(text).expect_err(text);
            assert_eq!(error.message, "Invalid filter clause", "{text}");
        }
    }

    #[test]
    fn quoted_quote_in_app_class() {
        let filter = InteractionFilter::parse("appClass eq 'it''s'").expect("valid filter");
        assert_eq!(filter.app_class_groups, vec![vec!["it's".to_owned()]]);
    }

    #[test]
    fn top_limits() {
        assert_eq!(parse_top(None, 10, 100).expect("default"), 10);
        assert_eq!(parse_top(Some("100"), 10, 100).expect("max"), 100);
        assert!(parse_top(Some("101"), 10, 100).is_err());
        assert!(parse_top(Some("0"), 10, 100).is_err());
        assert!(parse_top(Some("ten"), 10, 100).is_err());
    }

    #[test]
    fn license_filter_variants() {
        let sku = "639dec6b-bb19-468b-871c-c5c441c4b0cb";
        for text in [
            format!("assignedLicenses/any(x:x/skuId eq {sku})"),
            format!("assignedLicenses/any(l: l/skuId  eq  {})", sku.to_uppercase()),
        ] {
            assert_eq!(parse_license_filter(&text).expect(&text), sku);
        }
        for text in [
            "accountEnabled eq true",
            "assignedLicenses/any(x:y/skuId eq 639dec6b-bb19-468b-871c-c5c441c4b0cb)",
            "assignedLicenses/any(x:x/skuId eq 'abc')",
        ] {
            assert_eq!(parse_license_filter(text).expect_err(text).status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn skiptoken_round_trips() {
        for token in [SkipToken::Interactions(10), SkipToken::Users(3), SkipToken::RawPage(2)] {
            assert_eq!(SkipToken::decode(&token.encode()).expect("decodes"), token);
        }
        // The skip token in the examples on Microsoft's reference pages, for offset 10.
        assert_eq!(
            SkipToken::Interactions(10).encode(),
            "U2tpcFZhbHVlPTEwI01haWxib3hGb2xkZXI9TWFpbEZvbGRlcnMvVGVhbXNNZXNzYWdlc0RhdGE="
        );
        for bad in ["%%%", "U2tpcFZhbHVlPXRlbg==", ""] {
            assert!(SkipToken::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_link_encodes_values() {
        let link = next_link("127.0.0.1:9", "/v1.0/x", &[("$filter", "appClass eq 'a'"), ("$skiptoken", "YQ==")]);
        assert_eq!(link, "http://127.0.0.1:9/v1.0/x?$filter=appClass+eq+%27a%27&$skiptoken=YQ%3D%3D");
    }

    #[test]
    fn repeated_system_option_is_rejected() {
        assert!(QueryOptions::parse(Some("$top=1&$top=2")).is_err());
        let options = QueryOptions::parse(Some("model=A&$top=5&%24filter=a")).expect("valid query");
        assert_eq!(options.get("$top"), Some("5"));
        assert_eq!(options.get("$filter"), Some("a"));
        assert!(options.reject_unsupported(&["$top", "$filter"]).is_ok());
        assert!(options.reject_unsupported(&["$top"]).is_err());
    }
}

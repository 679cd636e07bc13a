//! The simulator's data: users, their interaction records, and pages served verbatim.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// The SKU id of the Microsoft 365 Copilot license. In the simulator, licensed users hold it
/// and unlicensed users hold no SKU at all.
pub const COPILOT_SKU_ID: &str = "639dec6b-bb19-468b-871c-c5c441c4b0cb";

/// The domain of the user principal names of users the simulator makes up.
pub(super) const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";

/// A directory user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// Whether the user holds the Microsoft 365 Copilot license, without which Graph returns
    /// 403 for the user's interaction history.
    pub licensed: bool,
}

/// One `aiInteraction` record as Graph returns it, with the two fields the server filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRecord {
    /// `createdDateTime`, parsed.
    pub created: DateTime<Utc>,
    /// `appClass`.
    pub app_class: String,
    pub json: Value,
}

/// Everything the simulator serves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub users: Vec<SimUser>,
    /// Records by user id, sorted by `created` ascending, which is the order the server pages
    /// them in. Records with equal `created` keep the order they were added in.
    pub records: BTreeMap<String, Vec<SimRecord>>,
    /// Pages served verbatim by user id. A user with raw pages gets them instead of records.
    pub raw_pages: BTreeMap<String, Vec<Bytes>>,
}

/// Parameters of [`Dataset::generate`].
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub seed: u64,
    /// Users with the Copilot license, each with an interaction history.
    pub users: usize,
    /// Users without the license, in addition to `users`.
    pub unlicensed_users: usize,
    /// The approximate number of records in each licensed user's history. Shared meeting
    /// sessions and prompt/response pairs can add a few records more.
    pub interactions_per_user: usize,
    /// The first instant records may have (inclusive).
    pub start: DateTime<Utc>,
    /// The instant all records precede (exclusive).
    pub end: DateTime<Utc>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            seed: 42,
            users: 36,
            unlicensed_users: 4,
            interactions_per_user: 100,
            start: Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).single().unwrap_or_default(),
            end: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().unwrap_or_default(),
        }
    }
}

/// Errors of adding records. Each variant names the file or user the records came from.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("failed to read records file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("records file {} is not valid JSON: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    #[error(
        "records file {} must contain a JSON array of records, an object with a `value` array, \
         or one record object, but it contains {found}",
        path.display()
    )]
    Shape { path: PathBuf, found: &'static str },
    #[error("invalid record {index} in {origin}: {reason}")]
    Record { origin: String, index: usize, reason: String },
}

impl Dataset {
    /// Generates users and histories that depend only on `options`.
    pub fn generate(options: &GenerateOptions) -> Dataset {
        super::generate::generate(options)
    }

    /// Returns a dataset with no users.
    pub fn empty() -> Dataset {
        Dataset::default()
    }

    /// Adds a licensed user (if missing) whose records are read from a JSON file: a top-level
    /// array of records, a page object with `value`, or one bare record object. Records are
    /// served through the normal filter and paging path. Errors name the file and what is wrong.
    pub fn add_records_file(&mut self, user_id: &str, path: &Path) -> Result<(), DatasetError> {
        let bytes = std::fs::read(path).map_err(|source| DatasetError::Read { path: path.to_owned(), source })?;
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|source| DatasetError::Json { path: path.to_owned(), source })?;
        let records =
            records_of_document(document).map_err(|found| DatasetError::Shape { path: path.to_owned(), found })?;
        self.add_validated(user_id, records, &path.display().to_string())
    }

    /// Adds a licensed user (if missing) and `records` to its history. Each record needs a
    /// `createdDateTime` in RFC 3339 and an `appClass` string. Nothing is added if one fails.
    pub fn add_records(&mut self, user_id: &str, records: Vec<Value>) -> Result<(), DatasetError> {
        self.add_validated(user_id, records, &format!("the records of user '{user_id}'"))
    }

    /// Adds a licensed user (if missing) whose pages are served verbatim, in order. The server
    /// rewrites `@odata.nextLink` in pages that are JSON objects and serves other bytes as they are.
    pub fn add_raw_pages(&mut self, user_id: &str, pages: Vec<Bytes>) {
        let id = self.ensure_user(user_id);
        self.raw_pages.entry(id).or_default().extend(pages);
    }

    /// Returns the records of `user_id` with created in [start, end), in the order the server
    /// serves them: what a correct client must land. `user_id` may also be a user principal name.
    pub fn records_in_window(&self, user_id: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<&SimRecord> {
        let Some(user) = self.find_user(user_id) else {
            return Vec::new();
        };
        let Some(records) = self.records.get(&user.id) else {
            return Vec::new();
        };
        records.iter().filter(|record| record.created >= start && record.created < end).collect()
    }

    pub fn licensed_users(&self) -> impl Iterator<Item = &SimUser> {
        self.users.iter().filter(|user| user.licensed)
    }

    /// Finds a user by id or by user principal name. Ids match exactly, user principal names
    /// match ignoring ASCII case, as in Entra ID.
    pub fn find_user(&self, id_or_upn: &str) -> Option<&SimUser> {
        self.users
            .iter()
            .find(|user| user.id == id_or_upn)
            .or_else(|| self.users.iter().find(|user| user.user_principal_name.eq_ignore_ascii_case(id_or_upn)))
    }

    fn add_validated(&mut self, user_id: &str, records: Vec<Value>, origin: &str) -> Result<(), DatasetError> {
        let parsed = records
            .into_iter()
            .enumerate()
            .map(|(index, json)| {
                parse_record(json).map_err(|reason| DatasetError::Record { origin: origin.to_owned(), index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let id = self.ensure_user(user_id);
        let history = self.records.entry(id).or_default();
        history.extend(parsed);
        // A stable sort keeps records with equal timestamps in the order they were added.
        history.sort_by_key(|record| record.created);
        Ok(())
    }

    /// Returns the id of the user with this id or user principal name, adding a licensed user
    /// when there is none. An existing user keeps its license state, so a test can give records
    /// to an unlicensed user and still expect 403.
    fn ensure_user(&mut self, id_or_upn: &str) -> String {
        if let Some(user) = self.find_user(id_or_upn) {
            return user.id.clone();
        }
        let user_principal_name =
            if id_or_upn.contains('@') { id_or_upn.to_owned() } else { format!("{id_or_upn}@{TENANT_DOMAIN}") };
        self.users.push(SimUser {
            id: id_or_upn.to_owned(),
            user_principal_name,
            display_name: id_or_upn.to_owned(),
            licensed: true,
        });
        id_or_upn.to_owned()
    }
}

/// Returns the records of a records file, or the kind of JSON value found instead.
fn records_of_document(document: Value) -> Result<Vec<Value>, &'static str> {
    match document {
        Value::Array(records) => Ok(records),
        Value::Object(mut object) => match object.remove("value") {
            Some(Value::Array(records)) => Ok(records),
            Some(_) => Err("an object whose `value` is not an array"),
            None => Ok(vec![Value::Object(object)]),
        },
        Value::Null => Err("null"),
        Value::Bool(_) => Err("a boolean"),
        Value::Number(_) => Err("a number"),
        Value::String(_) => Err("a string"),
    }
}

/// Reads the fields the server filters on, or returns why the record is unusable.
fn parse_record(json: Value) -> Result<SimRecord, String> {
    let Some(object) = json.as_object() else {
        return Err("the record is not a JSON object".to_owned());
    };
    let created = match object.get("createdDateTime") {
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map_err(|error| format!("createdDateTime '{text}' is not an RFC 3339 timestamp: {error}"))?
            .to_utc(),
        Some(_) => return Err("createdDateTime is not a string".to_owned()),
        None => return Err("createdDateTime is missing".to_owned()),
    };
    let app_class = match object.get("appClass") {
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err("appClass is not a string".to_owned()),
        None => return Err("appClass is missing".to_owned()),
    };
    Ok(SimRecord { created, app_class, json })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test timestamp").to_utc()
    }

    fn record(created: &str, app: &str) -> Value {
        json!({ "id": created, "createdDateTime": created, "appClass": app })
    }

    #[test]
    fn add_records_sorts_and_creates_user() {
        let mut dataset = Dataset::empty();
        let records = vec![
            record("2026-10-02T00:00:00Z", "IPM.SkypeTeams.Message.Copilot.Word"),
            record("2026-10-01T00:00:00.5Z", "IPM.SkypeTeams.Message.Copilot.BizChat"),
        ];
        dataset.add_records("alice", records).expect("valid records");

        let user = dataset.find_user("alice").expect("user added");
        assert!(user.licensed);
        assert_eq!(user.user_principal_name, "alice@contoso.onmicrosoft.com");
        let history = &dataset.records["alice"];
        assert_eq!(history[0].created, at("2026-10-01T00:00:00.5Z"));
        assert_eq!(history[1].app_class, "IPM.SkypeTeams.Message.Copilot.Word");
    }

    #[test]
    fn add_records_rejects_bad_timestamp() {
        let mut dataset = Dataset::empty();
        let records = vec![
            record("2026-10-02T00:00:00Z", "IPM.SkypeTeams.Message.Copilot.Word"),
            record("yesterday", "IPM.SkypeTeams.Message.Copilot.Word"),
        ];
        let error = dataset.add_records("alice", records).expect_err("bad timestamp");
        let message = error.to_string();
        assert!(message.contains("record 1"), "{message}");
        assert!(message.contains("'yesterday'"), "{message}");
        assert!(dataset.users.is_empty(), "nothing is added on error");
    }

    #[test]
    fn add_records_rejects_missing_app_class() {
        let mut dataset = Dataset::empty();
        let error = dataset
            .add_records("alice", vec![json!({ "createdDateTime": "2026-10-02T00:00:00Z" })])
            .expect_err("no appClass");
        assert!(error.to_string().contains("appClass is missing"), "{error}");
    }

    #[test]
    fn add_records_file_reads_three_shapes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let one = record("2026-10-01T00:00:00.66Z", "IPM.SkypeTeams.Message.Copilot.Teams");
        let two = record("2026-10-01T00:00:01Z", "IPM.SkypeTeams.Message.Copilot.Teams");
        let cases = [
            ("array.json", json!([one, two]), 2),
            ("page.json", json!({ "@odata.count": 2, "value": [one, two] }), 2),
            ("bare.json", one.clone(), 1),
        ];
        for (file, document, expected) in cases {
            let path = dir.path().join(file);
            std::fs::write(&path, document.to_string()).expect("write");
            let mut dataset = Dataset::empty();
            dataset.add_records_file("u1", &path).expect(file);
            assert_eq!(dataset.records["u1"].len(), expected, "{file}");
        }
    }

    #[test]
    fn add_records_file_names_file_on_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("broken.json");
        std::fs::write(&path, b"[{\"createdDateTime\":").expect("write");
        let error = Dataset::empty().add_records_file("u1", &path).expect_err("truncated JSON");
        assert!(error.to_string().contains("broken.json"), "{error}");

        std::fs::write(&path, b"42").expect("write");
        let error = Dataset::empty().add_records_file("u1", &path).expect_err("a number");
        assert!(error.to_string().contains("contains a number"), "{error}");

        let missing = dir.path().join("missing.json");
        let error = Dataset::empty().add_records_file("u1", &missing).expect_err("missing file");
        assert!(error.to_string().contains("missing.json"), "{error}");
    }

    #[test]
    fn records_in_window_is_half_open() {
        let mut dataset = Dataset::empty();
        let records = vec![
            record("2026-10-01T00:00:00Z", "A"),
            record("2026-10-01T12:00:00Z", "A"),
            record("2026-10-02T00:00:00Z", "A"),
        ];
        dataset.add_records("alice", records).expect("valid records");
        let window = dataset.records_in_window("alice", at("2026-10-01T00:00:00Z"), at("2026-10-02T00:00:00Z"));
        let created: Vec<_> = window.iter().map(|record| record.created).collect();
        assert_eq!(created, [at("2026-10-01T00:00:00Z"), at("2026-10-01T12:00:00Z")]);
        assert!(dataset.records_in_window("bob", at("2026-10-01T00:00:00Z"), at("2026-10-03T00:00:00Z")).is_empty());
    }

    #[test]
    fn existing_user_keeps_license_state() {
        let mut dataset = Dataset::empty();
        dataset.users.push(SimUser {
            id: "u1".into(),
            user_principal_name: "u1@contoso.onmicrosoft.com".into(),
            display_name: "U1".into(),
            licensed: false,
        });
        dataset.add_raw_pages("U1@CONTOSO.onmicrosoft.com", vec![Bytes::from_static(b"{}")]);
        assert_eq!(dataset.users.len(), 1);
        assert!(!dataset.users[0].licensed);
        assert_eq!(dataset.raw_pages["u1"].len(), 1);
    }
}

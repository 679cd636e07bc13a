//! The benchmark data: the simulator's records saved as Graph pages on disk, and a lean record
//! generator that produces the same JSON shapes at any volume without holding them in memory.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use copilot_lake::simulate::{Dataset, GenerateOptions};
use serde_json::{Value, json};

/// Records per page, Graph's maximum for getAllEnterpriseInteractions.
pub const PAGE_SIZE: usize = 100;

/// Writes every user's records as pages of [`PAGE_SIZE`] to `DIR/user_id=<id>/page-NNNNN.json`,
/// the layout DuckDB's `hive_partitioning` reads the user id from. Returns the page count.
pub fn save_simulator_pages(dir: &Path, options: &GenerateOptions) -> anyhow::Result<usize> {
    let dataset = Dataset::generate(options);
    let mut pages = 0;
    for (user_id, records) in &dataset.records {
        let user_dir = dir.join(format!("user_id={user_id}"));
        std::fs::create_dir_all(&user_dir).with_context(|| format!("cannot create {}", user_dir.display()))?;
        let chunks: Vec<_> = records.chunks(PAGE_SIZE).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            let values: Vec<&Value> = chunk.iter().map(|record| &record.json).collect();
            let mut page = json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.aiInteraction)",
                "@odata.count": values.len(),
                "value": values,
            });
            if index + 1 < chunks.len() {
                page["@odata.nextLink"] = Value::from(format!("https://graph.microsoft.com/v1.0/page/{}", index + 1));
            }
            let path = user_dir.join(format!("page-{index:05}.json"));
            std::fs::write(&path, serde_json::to_vec(&page)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            pages += 1;
        }
    }
    Ok(pages)
}

/// The saved pages of one user, file paths in page order.
pub struct UserPages {
    pub user_id: String,
    pub files: Vec<PathBuf>,
}

/// Lists the users and page files under `dir`, as [`save_simulator_pages`] wrote them.
pub fn list_saved_pages(dir: &Path) -> anyhow::Result<Vec<UserPages>> {
    let mut users = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let Some(user_id) =
            path.file_name().and_then(|name| name.to_str()).and_then(|name| name.strip_prefix("user_id="))
        else {
            continue;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)?.filter_map(|entry| Some(entry.ok()?.path())).collect();
        files.sort();
        users.push(UserPages { user_id: user_id.to_owned(), files });
    }
    users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(users)
}

/// The fields whose values the lean generator replaces in each template record.
const SLOTS: [&str; 5] = ["id", "etag", "createdDateTime", "sessionId", "requestId"];

/// One simulator record as text with holes at the [`SLOTS`] values.
struct Template {
    /// Literal text around the holes: one more than `slots`.
    literals: Vec<String>,
    /// For each hole, its index in [`SLOTS`].
    slots: Vec<usize>,
}

/// Generates records shaped like the simulator's (same fields, lists, content and sizes) by
/// filling fresh ids and times into templates taken from a small simulated tenant, so a bench
/// can serve millions of records with only the templates in memory.
pub struct LeanGenerator {
    templates: Vec<Template>,
    users: usize,
    per_user: usize,
    start: DateTime<Utc>,
    span: Duration,
}

impl LeanGenerator {
    /// Builds templates from a simulated tenant of 40 users; records of `users` users with
    /// `per_user` records each are spread evenly over `days` days from `start`.
    pub fn new(users: usize, per_user: usize, start: DateTime<Utc>, days: i64) -> LeanGenerator {
        let options = GenerateOptions {
            seed: 7,
            users: 40,
            unlicensed_users: 0,
            interactions_per_user: 250,
            ..GenerateOptions::default()
        };
        let dataset = Dataset::generate(&options);
        let templates = dataset.records.values().flatten().filter_map(|record| template(&record.json)).collect();
        LeanGenerator { templates, users, per_user, start, span: Duration::days(days) }
    }

    pub fn user_id(index: usize) -> String {
        format!("00000000-0000-4000-8000-{index:012}")
    }

    pub fn user_index(user_id: &str) -> Option<usize> {
        user_id.strip_prefix("00000000-0000-4000-8000-")?.parse().ok()
    }

    pub fn users(&self) -> usize {
        self.users
    }

    pub fn pages_per_user(&self) -> usize {
        self.per_user.div_ceil(PAGE_SIZE)
    }

    /// Appends the JSON array elements of page `page` of user `user` to `out`, comma-separated.
    pub fn write_page_records(&self, user: usize, page: usize, out: &mut String) {
        let first = page * PAGE_SIZE;
        let last = (first + PAGE_SIZE).min(self.per_user);
        for record in first..last {
            if record > first {
                out.push(',');
            }
            self.write_record(user, record, out);
        }
    }

    fn write_record(&self, user: usize, record: usize, out: &mut String) {
        let mix = splitmix(((user as u64) << 32) ^ record as u64);
        let template = &self.templates[(mix % self.templates.len() as u64) as usize];
        // Records are spread evenly over the span, ascending within a user, with jitter
        // inside each record's share of the span.
        let share = self.span.num_milliseconds() / self.per_user.max(1) as i64;
        let offset = share * record as i64 + (mix >> 20) as i64 % share.max(1);
        let created = self.start + Duration::milliseconds(offset) + Duration::microseconds((mix % 1000) as i64);
        let id = format!("{}{:06}", created.timestamp_millis(), record % 1_000_000);

        for (index, literal) in template.literals.iter().enumerate() {
            out.push_str(literal);
            let Some(slot) = template.slots.get(index) else {
                continue;
            };
            match SLOTS[*slot] {
                "id" | "etag" => out.push_str(&id),
                "createdDateTime" => out.push_str(&created.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
                "sessionId" => out.push_str(&format!("19:lean-{user}-{}@thread.v2", record / 6)),
                _ => out.push_str(&format!("{:08x}-0000-4000-8000-{:012x}", user, record / 2)),
            }
        }
    }
}

/// Cuts a record's JSON at the [`SLOTS`] string values; `None` when one is missing.
fn template(record: &Value) -> Option<Template> {
    let mut record = record.clone();
    let object = record.as_object_mut()?;
    for (index, field) in SLOTS.iter().enumerate() {
        if !object.get(*field)?.is_string() {
            return None;
        }
        object.insert((*field).to_owned(), Value::from(format!("\u{1}{index}\u{1}")));
    }
    let text = serde_json::to_string(&record).ok()?;
    // serde_json writes U+0001 as the escape \u0001.
    let pieces: Vec<&str> = text.split("\\u0001").collect();
    let mut literals = Vec::new();
    let mut slots = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        if index % 2 == 0 {
            literals.push((*piece).to_owned());
        } else {
            slots.push(piece.parse().ok()?);
        }
    }
    (slots.len() == SLOTS.len()).then_some(Template { literals, slots })
}

/// Hashes `x` with the splitmix64 finalizer: cheap and well mixed, for deterministic choices.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

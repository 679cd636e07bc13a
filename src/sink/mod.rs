//! The Parquet sink: rows buffered per date partition, written as staged files under
//! `_copilot_lake/staging/<run>/`, and published into the table folders only when the run
//! commits, so readers never see a partial file or a partial run.

pub mod layout;
pub mod parquet;
pub mod read;
pub mod store;
mod trim;

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;

use crate::flatten::Flattener;
use crate::graph::model::Interaction;
use layout::DataFilePath;
pub use parquet::Codec;
use read::KeyHash;
pub use store::Lake;

#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub codec: Codec,
    /// A partition's buffer is written out as a file once it holds about this many bytes.
    pub target_file_size: usize,
    /// The maximum memory the Arrow builders of all partitions may allocate, spare capacity
    /// included. Past it, the largest partitions are written until less than three quarters of
    /// it is left.
    pub buffer_budget: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { codec: Codec::Zstd, target_file_size: 128 * 1024 * 1024, buffer_budget: 256 * 1024 * 1024 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Encode(#[from] parquet::EncodeError),
    #[error("cannot build Arrow batches: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("{operation} {path} failed on the lake at {location}: {source}")]
    Store { operation: &'static str, path: String, location: String, source: object_store::Error },
    #[error("the Parquet encoder task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A data file written to staging, waiting to be published.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StagedFile {
    pub path: String,
    pub table: String,
    pub rows: usize,
    pub bytes: usize,
}

/// Buffers flattened rows per date partition and writes them to staging.
pub struct LakeWriter {
    lake: Lake,
    run_id: String,
    options: WriteOptions,
    partitions: BTreeMap<NaiveDate, Flattener>,
    staged: Vec<StagedFile>,
    next_file: u32,
    /// Keys already published, per date, loaded when the run first touches the date.
    landed: HashMap<NaiveDate, HashSet<KeyHash>>,
    /// Records skipped because an earlier run already landed their key.
    pub already_landed: u64,
}

impl LakeWriter {
    pub fn new(lake: Lake, run_id: String, options: WriteOptions) -> Self {
        LakeWriter {
            lake,
            run_id,
            options,
            partitions: BTreeMap::new(),
            staged: Vec::new(),
            next_file: 0,
            landed: HashMap::new(),
            already_landed: 0,
        }
    }

    /// Adds one user's records; each goes to the partition of its UTC creation date, and its
    /// child rows with it. A record whose key is already published is skipped, so windows that
    /// overlap earlier runs (a lookback, a rerun) add only what is new.
    pub async fn add(&mut self, user_id: &str, records: &[Interaction]) -> Result<(), SinkError> {
        for record in records {
            let date = record.created_date_time.date_naive();
            if !self.landed.contains_key(&date) {
                let keys = read::keys_in_date(&self.lake, date).await?;
                self.landed.insert(date, keys);
            }
            // A date with nothing published (every date of a first backfill) needs no hash.
            let landed = self.landed.get(&date).filter(|keys| !keys.is_empty());
            if landed.is_some_and(|keys| keys.contains(&read::key_hash(user_id, &record.session_id, &record.id))) {
                self.already_landed += 1;
                continue;
            }
            self.partitions.entry(date).or_default().push(user_id, record);
        }
        self.flush_full().await
    }

    /// Writes partitions that reached the target size, then the largest ones while the
    /// builders' memory is over budget. The memory is what the builders allocated, so the
    /// budget bounds the buffers however many partitions a run touches.
    async fn flush_full(&mut self) -> Result<(), SinkError> {
        let full: Vec<NaiveDate> = self
            .partitions
            .iter()
            .filter(|(_, flattener)| flattener.bytes() >= self.options.target_file_size)
            .map(|(date, _)| *date)
            .collect();
        self.flush(full).await?;

        let mut sizes: Vec<(usize, NaiveDate)> =
            self.partitions.iter().map(|(date, flattener)| (flattener.allocated_bytes(), *date)).collect();
        let mut allocated: usize = sizes.iter().map(|(size, _)| size).sum();
        if allocated <= self.options.buffer_budget {
            return Ok(());
        }
        // Largest first, down to three quarters of the budget, so the next users do not
        // trigger another flush of one small partition each.
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let floor = self.options.buffer_budget / 4 * 3;
        let mut dates = Vec::new();
        for (size, date) in sizes {
            if allocated <= floor {
                break;
            }
            allocated -= size;
            dates.push(date);
        }
        self.flush(dates).await
    }

    /// Writes the partitions of `dates` to staging, encoding up to [`encode_parallelism`]
    /// files at a time.
    async fn flush(&mut self, dates: Vec<NaiveDate>) -> Result<(), SinkError> {
        if dates.is_empty() {
            return Ok(());
        }
        let mut files = Vec::new();
        for date in dates {
            let Some(mut flattener) = self.partitions.remove(&date) else {
                continue;
            };
            for (table, batch) in flattener.finish()? {
                self.next_file += 1;
                let file_name = format!("part-{}-{:05}.parquet", self.run_id, self.next_file);
                files.push((DataFilePath { table, date, file_name }, batch));
            }
        }
        let (lake, run_id, codec) = (&self.lake, self.run_id.as_str(), self.options.codec);
        let mut staged: Vec<StagedFile> = futures::stream::iter(files)
            .map(|(path, batch)| write_file(lake, run_id, codec, path, batch))
            .buffer_unordered(encode_parallelism())
            .try_collect()
            .await?;
        staged.sort_by(|a, b| a.path.cmp(&b.path));
        self.staged.extend(staged);
        trim::release_freed_memory();
        Ok(())
    }

    /// Writes every buffered partition to staging and returns the staged files.
    pub async fn finish(&mut self) -> Result<Vec<StagedFile>, SinkError> {
        let dates: Vec<NaiveDate> = self.partitions.keys().copied().collect();
        self.flush(dates).await?;
        Ok(std::mem::take(&mut self.staged))
    }
}

/// Files encoded at the same time: one per core, because encoding (sort, dictionary, zstd) is
/// CPU-bound. Each keeps a sorted copy of its batch in memory while it encodes.
fn encode_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Encodes one table's rows of one date off the async threads and stages the file.
async fn write_file(
    lake: &Lake,
    run_id: &str,
    codec: Codec,
    data_path: DataFilePath,
    batch: arrow::record_batch::RecordBatch,
) -> Result<StagedFile, SinkError> {
    let table = data_path.table;
    let rows = batch.num_rows();
    let encoded = tokio::task::spawn_blocking(move || parquet::encode(table, &batch, codec)).await??;
    let bytes = encoded.len();

    let staged = lake.root.staged(run_id, &data_path);
    store::put_file(lake.store.as_ref(), &staged, Bytes::from(encoded))
        .await
        .map_err(|source| lake.store_error("PUT", &staged, source))?;
    tracing::debug!(table = table.name(), date = %data_path.date, rows, bytes, "staged data file");
    Ok(StagedFile { path: data_path.relative(), table: table.name().into(), rows, bytes })
}

/// Moves staged files into the table folders. A file already published (by an earlier attempt
/// at the same commit) is skipped, so publishing can be repeated after a crash.
pub async fn publish(lake: &Lake, run_id: &str, files: &[StagedFile]) -> Result<(), SinkError> {
    for (index, file) in files.iter().enumerate() {
        if index == 1 {
            crate::failpoint::hit("first-file-published");
        }
        let Some(data_path) = DataFilePath::parse(&file.path) else {
            continue;
        };
        let from = lake.root.staged(run_id, &data_path);
        let to = lake.root.published(&data_path);
        match lake.store.rename(&from, &to).await {
            Ok(()) => {}
            Err(object_store::Error::NotFound { .. }) if lake.store.head(&to).await.is_ok() => {}
            Err(source) => return Err(lake.store_error("RENAME", &from, source)),
        }
    }
    Ok(())
}

/// Deletes published data files, given relative to the lake root; files already gone are skipped.
pub async fn remove(lake: &Lake, files: &[String]) -> Result<(), SinkError> {
    for file in files {
        let path = lake.root.join(file);
        match lake.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(source) => return Err(lake.store_error("DELETE", &path, source)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::parse_interaction;

    fn record(day: u32, id: usize) -> Interaction {
        let json = format!(
            r#"{{"id":"{id}","sessionId":"s{id}","createdDateTime":"2025-01-{day:02}T10:00:00Z",
                "appClass":"IPM.SkypeTeams.Message.Copilot.Word","body":{{"contentType":"text","content":"{}"}},
                "links":[{{"linkUrl":"https://contoso.example/{id}"}}]}}"#,
            "x".repeat(200)
        );
        let raw = serde_json::value::RawValue::from_string(json).expect("JSON");
        parse_interaction(&raw).expect("record")
    }

    fn allocated(writer: &LakeWriter) -> usize {
        writer.partitions.values().map(Flattener::allocated_bytes).sum()
    }

    #[tokio::test]
    async fn budget_bounds_builders_across_dates() {
        let folder = tempfile::tempdir().expect("temp dir");
        let lake = store::open(folder.path().to_str().expect("UTF-8"), &store::StoreOptions::default()).expect("lake");
        let budget = 256 * 1024;
        let options = WriteOptions { buffer_budget: budget, ..WriteOptions::default() };
        let mut writer = LakeWriter::new(lake, "run-1".into(), options);

        // Each user has records on all 28 dates, as in a backfill, so every date stays open.
        let mut added = 0;
        for user in 0..20 {
            let records: Vec<Interaction> =
                (0..280).map(|index| record(index % 28 + 1, user * 1000 + index as usize)).collect();
            writer.add(&format!("u{user}"), &records).await.expect("add");
            added += records.len();
            assert!(allocated(&writer) <= budget, "user {user}: {} bytes buffered", allocated(&writer));
        }
        let staged = writer.finish().await.expect("finish");

        let rows: usize = staged.iter().filter(|file| file.table == "interactions").map(|file| file.rows).sum();
        assert_eq!(rows, added);
        let links: usize = staged.iter().filter(|file| file.table == "links").map(|file| file.rows).sum();
        assert_eq!(links, added);
        assert!(staged.len() > 2 * 28, "the budget forced flushes before finish: {} files", staged.len());
    }

    #[tokio::test]
    async fn finish_stages_every_partition_once() {
        let folder = tempfile::tempdir().expect("temp dir");
        let lake = store::open(folder.path().to_str().expect("UTF-8"), &store::StoreOptions::default()).expect("lake");
        let mut writer = LakeWriter::new(lake, "run-2".into(), WriteOptions::default());
        let records: Vec<Interaction> = (0..90).map(|index| record(index % 9 + 1, index as usize)).collect();
        writer.add("u1", &records).await.expect("add");
        let staged = writer.finish().await.expect("finish");

        // Nine dates, two tables each (interactions, links), files numbered in order.
        assert_eq!(staged.len(), 18);
        let mut paths: Vec<&str> = staged.iter().map(|file| file.path.as_str()).collect();
        paths.dedup();
        assert_eq!(paths.len(), 18, "file names are unique");
        assert!(staged.iter().all(|file| file.rows == 10 && file.bytes > 0));
        assert!(writer.finish().await.expect("second finish").is_empty());
    }
}

//! The Parquet sink: rows buffered per date partition, written as staged files under
//! `_copilot_lake/staging/<run>/`, and published into the table folders only when the run
//! commits, so readers never see a partial file or a partial run.

pub mod layout;
pub mod parquet;
pub mod read;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use chrono::NaiveDate;
use object_store::ObjectStoreExt;

use crate::flatten::{Flattener, Table};
use crate::graph::model::Interaction;
use layout::DataFilePath;
use read::KeyHash;
pub use parquet::Codec;
pub use store::Lake;

#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub codec: Codec,
    /// A partition's buffer is written out as a file once it holds about this many bytes.
    pub target_file_size: usize,
    /// The most bytes buffered across all partitions; past it the largest partition is written.
    pub buffer_budget: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            codec: Codec::Zstd,
            target_file_size: 128 * 1024 * 1024,
            buffer_budget: 256 * 1024 * 1024,
        }
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
            let key = read::key_hash(user_id, &record.session_id, &record.id);
            if self.landed.get(&date).is_some_and(|keys| keys.contains(&key)) {
                self.already_landed += 1;
                continue;
            }
            self.partitions.entry(date).or_default().push(user_id, record);
        }
        self.flush_full().await
    }

    /// Writes partitions that reached the target size, then the largest ones while the total
    /// buffer is over budget.
    async fn flush_full(&mut self) -> Result<(), SinkError> {
        let full: Vec<NaiveDate> = self
            .partitions
            .iter()
            .filter(|(_, flattener)| flattener.bytes() >= self.options.target_file_size)
            .map(|(date, _)| *date)
            .collect();
        for date in full {
            self.flush(date).await?;
        }
        while self.buffered_bytes() > self.options.buffer_budget {
            let largest = self.partitions.iter().max_by_key(|(_, f)| f.bytes()).map(|(d, _)| *d);
            match largest {
                Some(date) => self.flush(date).await?,
                None => break,
            }
        }
        Ok(())
    }

    fn buffered_bytes(&self) -> usize {
        self.partitions.values().map(Flattener::bytes).sum()
    }

    async fn flush(&mut self, date: NaiveDate) -> Result<(), SinkError> {
        let Some(mut flattener) = self.partitions.remove(&date) else {
            return Ok(());
        };
        for (table, batch) in flattener.finish()? {
            self.write_file(table, date, batch).await?;
        }
        Ok(())
    }

    async fn write_file(
        &mut self,
        table: Table,
        date: NaiveDate,
        batch: arrow::record_batch::RecordBatch,
    ) -> Result<(), SinkError> {
        self.next_file += 1;
        let data_path = DataFilePath {
            table,
            date,
            file_name: format!("part-{}-{:05}.parquet", self.run_id, self.next_file),
        };
        let rows = batch.num_rows();
        let codec = self.options.codec;
        let encoded = tokio::task::spawn_blocking(move || parquet::encode(table, &batch, codec)).await??;
        let bytes = encoded.len();

        let staged = self.lake.root.staged(&self.run_id, &data_path);
        store::put_file(self.lake.store.as_ref(), &staged, Bytes::from(encoded))
            .await
            .map_err(|source| self.lake.store_error("PUT", &staged, source))?;
        tracing::debug!(table = table.name(), %date, rows, bytes, "staged data file");
        self.staged.push(StagedFile { path: data_path.relative(), table: table.name().into(), rows, bytes });
        Ok(())
    }

    /// Writes every buffered partition to staging and returns the staged files.
    pub async fn finish(&mut self) -> Result<Vec<StagedFile>, SinkError> {
        let dates: Vec<NaiveDate> = self.partitions.keys().copied().collect();
        for date in dates {
            self.flush(date).await?;
        }
        Ok(std::mem::take(&mut self.staged))
    }
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

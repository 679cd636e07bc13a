//! `copilot-lake compact`: merges the small files that frequent runs leave in a partition into
//! files near `--target-file-size`, through the same lock and commit protocol as `sync`, so the
//! lake stays exact if compaction is killed at any moment.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use object_store::{ObjectStoreExt, PutPayload};
use serde::Serialize;

use crate::flatten::Table;
use crate::sink::layout::DataFilePath;
use crate::sink::read::{LakeFile, read_file, table_files};
use crate::sink::store::StoreOptions;
use crate::sink::{self, Codec, Lake, SinkError, StagedFile};
use crate::sync::commit::{self, CommitRecord};
use crate::sync::lock::RunLock;
use crate::sync::plan::{ConfigError, parse_duration, parse_size};
use crate::sync::{SyncError, new_run_id};

/// What to compact.
#[derive(Debug, Clone)]
pub struct CompactPlan {
    pub lake: String,
    pub store_options: StoreOptions,
    pub tables: Vec<Table>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub target_file_size: usize,
    pub codec: Codec,
    pub wait_for_lock: std::time::Duration,
    pub lock_ttl: std::time::Duration,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CompactSummary {
    pub run_id: String,
    pub partitions: u64,
    pub files_before: u64,
    pub files_after: u64,
    pub rows: u64,
}

impl CompactPlan {
    pub fn from_args(args: &crate::cli::CompactArgs) -> Result<Self, ConfigError> {
        let mut tables = Vec::new();
        for name in &args.tables {
            let table = Table::from_name(name).ok_or_else(|| {
                ConfigError(format!(
                    "invalid --table '{name}': use interactions, contexts, attachments, links or mentions"
                ))
            })?;
            tables.push(table);
        }
        if tables.is_empty() {
            tables = Table::ALL.to_vec();
        }
        let date = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|text| {
                    NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map_err(|_| ConfigError(format!("invalid {flag} '{text}': use a date such as 2026-11-01")))
                })
                .transpose()
        };
        Ok(CompactPlan {
            lake: args.out.clone(),
            store_options: StoreOptions::parse(&args.store_options).map_err(ConfigError)?,
            tables,
            from: date("--from", &args.from)?,
            to: date("--to", &args.to)?,
            target_file_size: parse_size("--target-file-size", &args.target_file_size)?,
            codec: args.compression,
            wait_for_lock: parse_duration("--wait-for-lock", &args.wait_for_lock)?,
            lock_ttl: parse_duration("--lock-ttl", &args.lock_ttl)?,
        })
    }
}

/// Compacts every selected partition that has more than one file.
pub async fn run(plan: CompactPlan) -> Result<CompactSummary, SyncError> {
    let run_id = new_run_id(Utc::now());
    let lake = sink::store::open(&plan.lake, &plan.store_options)?;
    let lock = RunLock::acquire(&lake, &run_id, plan.lock_ttl, plan.wait_for_lock).await?;
    let result = compact_locked(&plan, &lake, &run_id, &lock).await;
    if let Err(error) = lock.release().await {
        tracing::warn!(error = %error, "cannot release the lake's lock; the next run takes it over once it expires");
    }
    result
}

async fn compact_locked(
    plan: &CompactPlan,
    lake: &Lake,
    run_id: &str,
    lock: &RunLock,
) -> Result<CompactSummary, SyncError> {
    commit::recover(lake).await?;
    let mut summary = CompactSummary { run_id: run_id.to_owned(), ..CompactSummary::default() };
    let mut add = Vec::new();
    let mut remove = Vec::new();

    for table in &plan.tables {
        for (date, files) in partitions(lake, *table, plan).await? {
            if files.len() < 2 {
                continue;
            }
            let staged = rewrite_partition(lake, run_id, *table, date, &files, plan).await?;
            summary.partitions += 1;
            summary.files_before += files.len() as u64;
            summary.files_after += staged.len() as u64;
            summary.rows += staged.iter().map(|file| file.rows as u64).sum::<u64>();
            add.extend(staged);
            remove.extend(files.iter().map(|file| file.path.relative()));
        }
    }
    if add.is_empty() {
        tracing::info!("nothing to compact");
        return Ok(summary);
    }

    lock.check().await?;
    let record = CommitRecord {
        format_version: commit::COMMIT_FORMAT_VERSION,
        run_id: run_id.to_owned(),
        add,
        remove,
        cursors: BTreeMap::new(),
        run_record: serde_json::to_value(&summary).unwrap_or_default(),
    };
    commit::commit(lake, &record).await?;
    tracing::info!(
        partitions = summary.partitions,
        files_before = summary.files_before,
        files_after = summary.files_after,
        "compaction committed"
    );
    Ok(summary)
}

/// The table's files grouped by date, within the plan's date range.
async fn partitions(
    lake: &Lake,
    table: Table,
    plan: &CompactPlan,
) -> Result<BTreeMap<NaiveDate, Vec<LakeFile>>, SinkError> {
    let mut grouped: BTreeMap<NaiveDate, Vec<LakeFile>> = BTreeMap::new();
    for file in table_files(lake, table).await? {
        let date = file.path.date;
        let in_range = plan.from.is_none_or(|from| date >= from) && plan.to.is_none_or(|to| date <= to);
        if in_range {
            grouped.entry(date).or_default().push(file);
        }
    }
    Ok(grouped)
}

/// Reads a partition's files and stages them again as files of about the target size.
async fn rewrite_partition(
    lake: &Lake,
    run_id: &str,
    table: Table,
    date: NaiveDate,
    files: &[LakeFile],
    plan: &CompactPlan,
) -> Result<Vec<StagedFile>, SinkError> {
    let schema = table.arrow_schema();
    let mut batches = Vec::new();
    for file in files {
        for batch in read_file(lake, file, None).await? {
            batches.push(align(&batch, &schema)?);
        }
    }
    let merged = concat_batches(&schema, &batches)?;
    let input_bytes: u64 = files.iter().map(|file| file.meta.size).sum();
    let parts = input_bytes.div_ceil(plan.target_file_size as u64).max(1) as usize;
    let rows_per_part = merged.num_rows().div_ceil(parts).max(1);

    let mut staged = Vec::new();
    let mut offset = 0;
    while offset < merged.num_rows() {
        let length = rows_per_part.min(merged.num_rows() - offset);
        let part = merged.slice(offset, length);
        offset += length;
        let data_path =
            DataFilePath { table, date, file_name: format!("part-{run_id}-{:05}.parquet", staged.len() + 1) };
        let codec = plan.codec;
        let encoded = tokio::task::spawn_blocking(move || sink::parquet::encode(table, &part, codec)).await??;
        let bytes = encoded.len();
        let path = lake.root.staged(run_id, &data_path);
        lake.store
            .put(&path, PutPayload::from(Bytes::from(encoded)))
            .await
            .map_err(|source| lake.store_error("PUT", &path, source))?;
        staged.push(StagedFile { path: data_path.relative(), table: table.name().into(), rows: length, bytes });
    }
    Ok(staged)
}

/// Brings a batch read from an older file to the current schema: columns added since are null.
fn align(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => Arc::clone(column),
            None => new_null_array(field.data_type(), batch.num_rows()),
        })
        .collect();
    RecordBatch::try_new(Arc::clone(schema), columns)
}

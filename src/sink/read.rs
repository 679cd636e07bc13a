//! Reading the published lake back: listing a partition's files, the keys already landed in a
//! date (to skip records a run has already committed), and whole partitions (for compaction).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::ObjectMeta;
use object_store::ObjectStoreExt;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::layout::DataFilePath;
use super::{Lake, SinkError};
use crate::flatten::Table;

/// A data file of the lake with its size.
#[derive(Debug, Clone)]
pub struct LakeFile {
    pub path: DataFilePath,
    pub meta: ObjectMeta,
}

/// Lists the published data files of one table partition, sorted by name.
pub async fn partition_files(lake: &Lake, table: Table, date: NaiveDate) -> Result<Vec<LakeFile>, SinkError> {
    let prefix = lake.root.join(&format!("{}/date={}", table.name(), date.format("%Y-%m-%d")));
    list_data_files(lake, &prefix).await
}

/// Lists the published data files of a table, sorted by name.
pub async fn table_files(lake: &Lake, table: Table) -> Result<Vec<LakeFile>, SinkError> {
    list_data_files(lake, &lake.root.join(table.name())).await
}

async fn list_data_files(lake: &Lake, prefix: &object_store::path::Path) -> Result<Vec<LakeFile>, SinkError> {
    let metas: Vec<ObjectMeta> =
        lake.store.list(Some(prefix)).try_collect().await.map_err(|source| lake.store_error("LIST", prefix, source))?;
    let mut files: Vec<LakeFile> = metas
        .into_iter()
        .filter_map(|meta| {
            let relative = lake.root.relative(&meta.location)?;
            Some(LakeFile { path: DataFilePath::parse(&relative)?, meta })
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// A compact fingerprint of an interaction key. 128 bits keep the chance of two keys colliding
/// negligible (about 1e-20 for a million keys in one date) at a fraction of the strings' memory.
pub type KeyHash = (u64, u64);

pub fn key_hash(user_id: &str, session_id: &str, interaction_id: &str) -> KeyHash {
    let hash_with = |salt: u8| {
        let mut hasher = DefaultHasher::new();
        salt.hash(&mut hasher);
        (user_id, session_id, interaction_id).hash(&mut hasher);
        hasher.finish()
    };
    (hash_with(1), hash_with(2))
}

/// Reads the keys of the interactions already published for `date`.
pub async fn keys_in_date(lake: &Lake, date: NaiveDate) -> Result<HashSet<KeyHash>, SinkError> {
    let mut keys = HashSet::new();
    for file in partition_files(lake, Table::Interactions, date).await? {
        for batch in read_file(lake, &file, Some(&["user_id", "session_id", "interaction_id"])).await? {
            let column = |index: usize| batch.column(index).as_string::<i32>().clone();
            let (users, sessions, ids) = (column(0), column(1), column(2));
            for row in 0..batch.num_rows() {
                if !users.is_null(row) && !sessions.is_null(row) && !ids.is_null(row) {
                    keys.insert(key_hash(users.value(row), sessions.value(row), ids.value(row)));
                }
            }
        }
    }
    Ok(keys)
}

/// Reads one data file, optionally only the named columns (in the file's column order). The
/// file is fetched whole: data files are bounded by `--target-file-size`.
pub async fn read_file(lake: &Lake, file: &LakeFile, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>, SinkError> {
    let location = file.meta.location.clone();
    let bytes = lake
        .store
        .get(&location)
        .await
        .map_err(|source| lake.store_error("GET", &location, source))?
        .bytes()
        .await
        .map_err(|source| lake.store_error("GET", &location, source))?;
    let columns: Option<Vec<String>> = columns.map(|names| names.iter().map(|name| name.to_string()).collect());
    let decoded = tokio::task::spawn_blocking(move || decode(bytes, columns.as_deref())).await?;
    decoded.map_err(|source| {
        let source = object_store::Error::Generic { store: "parquet", source: Box::new(source) };
        lake.store_error("READ", &file.meta.location, source)
    })
}

fn decode(bytes: bytes::Bytes, columns: Option<&[String]>) -> Result<Vec<RecordBatch>, parquet::errors::ParquetError> {
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    if let Some(columns) = columns {
        let schema = builder.parquet_schema();
        let indices: Vec<usize> = (0..schema.num_columns())
            .filter(|index| columns.iter().any(|name| name == schema.column(*index).name()))
            .collect();
        let mask = ProjectionMask::leaves(schema, indices);
        builder = builder.with_projection(mask);
    }
    let batches: Result<Vec<RecordBatch>, _> = builder.build()?.collect();
    Ok(batches?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_separates_fields() {
        assert_ne!(key_hash("ab", "c", "d"), key_hash("a", "bc", "d"));
        assert_eq!(key_hash("a", "b", "c"), key_hash("a", "b", "c"));
    }
}

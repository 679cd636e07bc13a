//! Encoding one table's rows of one partition as a Parquet file.

use std::sync::Arc;

use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::flatten::Table;

/// The Parquet compression codec of the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    Zstd,
    Snappy,
    None,
}

impl Codec {
    fn parquet(self) -> Compression {
        match self {
            // Level 3 is zstd's own default: most of the ratio at a fraction of the CPU time.
            Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
            Codec::Snappy => Compression::SNAPPY,
            Codec::None => Compression::UNCOMPRESSED,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot sort the rows of table {table}: {source}")]
    Sort { table: &'static str, source: ArrowError },
    #[error("cannot encode Parquet for table {table}: {source}")]
    Parquet { table: &'static str, source: ParquetError },
}

fn properties(codec: Codec) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(codec.parquet())
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("copilot-lake {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sorts the rows the way readers scan them: interactions by user and time, child rows by key
/// and ordinal, so row-group statistics prune well.
fn sort(table: Table, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let names: &[&str] = match table {
        Table::Interactions => &["user_id", "created_date_time", "session_id", "interaction_id"],
        _ => &["user_id", "session_id", "interaction_id", "ordinal"],
    };
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        let index = batch.schema().index_of(name)?;
        columns.push(SortColumn { values: Arc::clone(batch.column(index)), options: None });
    }
    let indices = lexsort_to_indices(&columns, None)?;
    take_record_batch(batch, &indices)
}

/// Encodes one batch as a complete Parquet file in memory.
pub fn encode(table: Table, batch: &RecordBatch, codec: Codec) -> Result<Vec<u8>, EncodeError> {
    let sorted = sort(table, batch).map_err(|source| EncodeError::Sort { table: table.name(), source })?;
    let parquet_error = |source| EncodeError::Parquet { table: table.name(), source };
    let mut writer =
        ArrowWriter::try_new(Vec::new(), sorted.schema(), Some(properties(codec))).map_err(parquet_error)?;
    writer.write(&sorted).map_err(parquet_error)?;
    writer.into_inner().map_err(parquet_error)
}

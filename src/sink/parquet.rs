//! Encoding one table's rows of one partition as a Parquet file.

use std::sync::Arc;

use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::flatten::Table;

/// The most encoded bytes of one row group, the row group size Spark and Hive write by default
/// (`parquet.block.size`): large enough for long sequential reads, small enough that a file
/// bigger than it splits across scan tasks.
const ROW_GROUP_BYTES: usize = 128 * 1024 * 1024;

/// Columns written without dictionary encoding because nearly every value is distinct, so a
/// dictionary only adds a page that repeats the values. Every other column keeps parquet-rs's
/// default dictionary: users, apps, types, locales, sessions and names repeat, and a column
/// whose dictionary outgrows its 1 MiB page limit falls back to plain encoding by itself.
/// Measured on the simulator's records (200 users x 500, 100,111 records, one zstd file per
/// table): `interactions` took 4,850,391 bytes with a dictionary on every column, 4,515,368 with
/// these three plain, and 4,954,431 with no dictionary at all.
const PLAIN_COLUMNS: [&str; 3] = ["interaction_id", "etag", "created_date_time"];

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

/// Returns the writer settings of one table's files. Page-level statistics also write the page index
/// (column and offset indexes), which lets readers skip pages inside a row group.
fn properties(table: Table, codec: Codec) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(codec.parquet())
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_sorting_columns(Some(sorting_columns(table)))
        .set_created_by(format!("copilot-lake {}", env!("CARGO_PKG_VERSION")));
    for column in table.columns().iter().filter(|column| PLAIN_COLUMNS.contains(&column.name)) {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column.name), false);
    }
    builder.build()
}

/// Returns the sort order of the rows in a file: interactions by user and time, child rows by key and
/// ordinal, the way readers scan them, so row-group and page statistics prune well.
fn sort_keys(table: Table) -> &'static [&'static str] {
    match table {
        Table::Interactions => &["user_id", "created_date_time", "session_id", "interaction_id"],
        _ => &["user_id", "session_id", "interaction_id", "ordinal"],
    }
}

/// Returns the sort order as row-group metadata, for readers that use it (DataFusion, Spark 4).
/// `lexsort_to_indices` with default options sorts ascending with nulls first.
fn sorting_columns(table: Table) -> Vec<SortingColumn> {
    let columns = table.columns();
    sort_keys(table)
        .iter()
        .filter_map(|name| columns.iter().position(|column| column.name == *name))
        .filter_map(|index| i32::try_from(index).ok())
        .map(|column_idx| SortingColumn { column_idx, descending: false, nulls_first: true })
        .collect()
}

fn sort(table: Table, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let mut columns = Vec::new();
    for name in sort_keys(table) {
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
        ArrowWriter::try_new(Vec::new(), sorted.schema(), Some(properties(table, codec))).map_err(parquet_error)?;
    writer.write(&sorted).map_err(parquet_error)?;
    writer.into_inner().map_err(parquet_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flatten::Flattener;
    use crate::graph::model::parse_interaction;
    use bytes::Bytes;
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::serialized_reader::ReadOptionsBuilder;

    fn encoded_interactions() -> Bytes {
        let mut flattener = Flattener::default();
        for (user, id) in [("u2", "2"), ("u1", "3"), ("u1", "1")] {
            let json = format!(
                r#"{{"id":"{id}","sessionId":"s","createdDateTime":"2025-01-01T00:00:0{id}Z","appClass":"IPM.SkypeTeams.Message.Copilot.Word"}}"#
            );
            let raw = serde_json::value::RawValue::from_string(json).expect("JSON");
            flattener.push(user, &parse_interaction(&raw).expect("record"));
        }
        let batches = flattener.finish().expect("batches");
        let (table, batch) = &batches[0];
        Bytes::from(encode(*table, batch, Codec::Zstd).expect("encode"))
    }

    #[test]
    fn files_carry_page_index_and_sort_order() {
        let options = ReadOptionsBuilder::new().with_page_index().build();
        let reader = SerializedFileReader::new_with_options(encoded_interactions(), options).expect("reader");
        let metadata = reader.metadata();
        assert!(metadata.column_index().is_some(), "column index");
        assert!(metadata.offset_index().is_some(), "offset index");

        let row_group = metadata.row_group(0);
        let sorting = row_group.sorting_columns().expect("sorting columns");
        let names: Vec<String> =
            sorting.iter().map(|c| row_group.column(c.column_idx as usize).column_path().string()).collect();
        assert_eq!(names, ["user_id", "created_date_time", "session_id", "interaction_id"]);

        let statistics = row_group.column(0).statistics().expect("user_id statistics");
        assert_eq!(statistics.min_bytes_opt(), Some(b"u1".as_slice()));
        assert_eq!(statistics.max_bytes_opt(), Some(b"u2".as_slice()));
    }

    #[test]
    fn dictionary_only_where_values_repeat() {
        let reader = SerializedFileReader::new(encoded_interactions()).expect("reader");
        let row_group = reader.metadata().row_group(0);
        for column in row_group.columns() {
            let name = column.column_path().string();
            let has_dictionary = column.dictionary_page_offset().is_some();
            assert_eq!(has_dictionary, !PLAIN_COLUMNS.contains(&name.as_str()), "{name}");
        }
        let app_class =
            row_group.columns().iter().find(|c| c.column_path().string() == "app_class").expect("app_class");
        assert!(
            app_class.encodings().any(|encoding| encoding == Encoding::RLE_DICTIONARY),
            "app_class is dictionary encoded"
        );
    }
}

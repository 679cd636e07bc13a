//! Row-at-a-time Arrow builders for one table, typed from the table's column list.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::schema::{ColumnType, Table, UTC};

enum ColumnBuilder {
    Utf8(StringBuilder),
    Int32(Int32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    /// Starts with no capacity: arrow's default of 1024 values would hold about 5 KiB per
    /// string column before the first row, 300 KiB for a date's five tables, and a backfill
    /// buffers hundreds of dates at once.
    fn new(kind: ColumnType) -> Self {
        match kind {
            ColumnType::Utf8 => ColumnBuilder::Utf8(StringBuilder::with_capacity(0, 0)),
            ColumnType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(0)),
            ColumnType::TimestampMicrosUtc => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(0).with_timezone(UTC))
            }
        }
    }

    /// Bytes the builder has allocated: values, offsets and validity, capacity included.
    fn allocated_bytes(&self) -> usize {
        match self {
            ColumnBuilder::Utf8(builder) => {
                builder.values_capacity() + builder.offsets_capacity() * size_of::<i32>() + builder.validity_capacity()
            }
            ColumnBuilder::Int32(builder) => builder.capacity() * size_of::<i32>() + builder.validity_capacity(),
            ColumnBuilder::Timestamp(builder) => builder.capacity() * size_of::<i64>() + builder.validity_capacity(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Utf8(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Int32(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Timestamp(builder) => Arc::new(builder.finish()),
        }
    }
}

/// Builds one table's record batch. Values are appended in column order; [`TableBuilder::end_row`]
/// checks that a row got exactly one value per column, so a flattening bug fails loudly in tests.
pub struct TableBuilder {
    table: Table,
    columns: Vec<ColumnBuilder>,
    next_column: usize,
    rows: usize,
    /// Approximate bytes of appended values, used to decide when to flush.
    bytes: usize,
}

impl TableBuilder {
    pub fn new(table: Table) -> Self {
        let columns = table.columns().iter().map(|c| ColumnBuilder::new(c.kind)).collect();
        TableBuilder { table, columns, next_column: 0, rows: 0, bytes: 0 }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Memory the builders hold, which grows in steps and so can be up to twice what the
    /// values need, and more than [`TableBuilder::bytes`] by the offsets and validity bits.
    pub fn allocated_bytes(&self) -> usize {
        self.columns.iter().map(ColumnBuilder::allocated_bytes).sum()
    }

    fn column(&mut self) -> &mut ColumnBuilder {
        let index = self.next_column;
        self.next_column += 1;
        &mut self.columns[index]
    }

    pub fn str(&mut self, value: Option<&str>) -> &mut Self {
        self.bytes += value.map_or(1, str::len);
        match self.column() {
            ColumnBuilder::Utf8(builder) => builder.append_option(value),
            _ => unreachable!("column order does not match the schema: expected a string column"),
        }
        self
    }

    pub fn int32(&mut self, value: Option<i32>) -> &mut Self {
        self.bytes += 4;
        match self.column() {
            ColumnBuilder::Int32(builder) => builder.append_option(value),
            _ => unreachable!("column order does not match the schema: expected an int32 column"),
        }
        self
    }

    pub fn timestamp_micros(&mut self, value: Option<i64>) -> &mut Self {
        self.bytes += 8;
        match self.column() {
            ColumnBuilder::Timestamp(builder) => builder.append_option(value),
            _ => {
                unreachable!("column order does not match the schema: expected a timestamp column")
            }
        }
        self
    }

    pub fn end_row(&mut self) {
        assert_eq!(
            self.next_column,
            self.columns.len(),
            "row of table {} has {} values for {} columns",
            self.table.name(),
            self.next_column,
            self.columns.len()
        );
        self.next_column = 0;
        self.rows += 1;
    }

    /// Returns the rows appended so far as one batch and starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.table.arrow_schema(), arrays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_builder_allocates_little() {
        // Arrow's builders reserve a few bytes up front (88 for interactions with arrow 59).
        for table in Table::ALL {
            assert!(TableBuilder::new(table).allocated_bytes() < 1024, "{}", table.name());
        }
    }

    #[test]
    fn allocated_covers_values_and_offsets() {
        let mut builder = TableBuilder::new(Table::Links);
        for index in 0..100 {
            builder.str(Some("user")).str(Some("session")).str(Some("id")).int32(Some(index));
            builder.str(Some("https://contoso.example/a")).str(None).str(Some("name"));
            builder.end_row();
        }
        // Values alone, then one 4-byte offset per string value and per int32.
        let offsets = 100 * 7 * 4;
        assert!(
            builder.allocated_bytes() >= builder.bytes() + offsets,
            "{} < {} + {offsets}",
            builder.allocated_bytes(),
            builder.bytes()
        );

        let batch = builder.finish().expect("batch");
        assert_eq!(batch.num_rows(), 100);
    }
}

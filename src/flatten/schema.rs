//! The five lake tables, defined once. The Arrow schemas the writer uses, the `schema` command's
//! output and the files under `schemas/` are all generated from [`Table::columns`].

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The time zone of every timestamp column: Parquet stores it as `isAdjustedToUTC = true`.
pub const UTC: &str = "UTC";

/// The hive partition column that readers derive from the `date=YYYY-MM-DD` folder name.
pub const PARTITION_COLUMN: &str = "date";

/// A column's logical type, mapped to Arrow, DuckDB and Spark types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Utf8,
    Int32,
    TimestampMicrosUtc,
}

impl ColumnType {
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::TimestampMicrosUtc => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        }
    }

    pub fn duckdb(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "VARCHAR",
            ColumnType::Int32 => "INTEGER",
            ColumnType::TimestampMicrosUtc => "TIMESTAMP WITH TIME ZONE",
        }
    }

    pub fn spark(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "STRING",
            ColumnType::Int32 => "INT",
            ColumnType::TimestampMicrosUtc => "TIMESTAMP",
        }
    }

    /// Returns the type of the Trino Hive connector, whose table columns have no time zone: the
    /// timestamp is the UTC time, read at microseconds when the catalog sets
    /// `hive.timestamp-precision=MICROSECONDS`.
    pub fn trino(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "varchar",
            ColumnType::Int32 => "integer",
            ColumnType::TimestampMicrosUtc => "timestamp(6)",
        }
    }

    /// The name in the `schema --format json` output.
    pub fn json_name(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "string",
            ColumnType::Int32 => "int32",
            ColumnType::TimestampMicrosUtc => "timestamp[us, UTC]",
        }
    }
}

/// One column: its snake_case name, type and whether it may hold nulls.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub nullable: bool,
}

const fn key(name: &'static str) -> Column {
    Column { name, kind: ColumnType::Utf8, nullable: false }
}

const fn text(name: &'static str) -> Column {
    Column { name, kind: ColumnType::Utf8, nullable: true }
}

const ORDINAL: Column = Column { name: "ordinal", kind: ColumnType::Int32, nullable: false };

const KEY: [Column; 3] = [key("user_id"), key("session_id"), key("interaction_id")];

const INTERACTIONS: &[Column] = &[
    KEY[0],
    KEY[1],
    KEY[2],
    text("request_id"),
    text("app_class"),
    text("interaction_type"),
    text("conversation_type"),
    text("etag"),
    Column { name: "created_date_time", kind: ColumnType::TimestampMicrosUtc, nullable: true },
    text("locale"),
    text("from_user_id"),
    text("from_user_display_name"),
    text("from_user_identity_type"),
    text("from_user_tenant_id"),
    text("from_application_id"),
    text("from_application_display_name"),
    text("from_application_identity_type"),
    text("from_device_id"),
    text("from_device_display_name"),
    text("body_content_type"),
    text("body_content"),
    // Derived columns follow the columns read from Graph, so those keep their positions.
    text("app"),
    text("body_text"),
];

const CONTEXTS: &[Column] =
    &[KEY[0], KEY[1], KEY[2], ORDINAL, text("context_reference"), text("context_type"), text("display_name")];

const ATTACHMENTS: &[Column] = &[
    KEY[0],
    KEY[1],
    KEY[2],
    ORDINAL,
    text("attachment_id"),
    text("content_type"),
    text("content_url"),
    text("content"),
    text("name"),
];

const LINKS: &[Column] = &[KEY[0], KEY[1], KEY[2], ORDINAL, text("link_url"), text("link_type"), text("display_name")];

const MENTIONS: &[Column] = &[
    KEY[0],
    KEY[1],
    KEY[2],
    ORDINAL,
    Column { name: "mention_id", kind: ColumnType::Int32, nullable: true },
    text("mention_text"),
    text("mentioned_user_id"),
    text("mentioned_user_display_name"),
    text("mentioned_application_id"),
    text("mentioned_application_display_name"),
    text("mentioned_conversation_id"),
    text("mentioned_conversation_display_name"),
    text("mentioned_conversation_identity_type"),
    text("mentioned_tag_id"),
    text("mentioned_tag_display_name"),
];

/// One of the five lake tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Interactions,
    Contexts,
    Attachments,
    Links,
    Mentions,
}

impl Table {
    pub const ALL: [Table; 5] =
        [Table::Interactions, Table::Contexts, Table::Attachments, Table::Links, Table::Mentions];

    /// The table's folder name under the lake root.
    pub fn name(self) -> &'static str {
        match self {
            Table::Interactions => "interactions",
            Table::Contexts => "contexts",
            Table::Attachments => "attachments",
            Table::Links => "links",
            Table::Mentions => "mentions",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|table| table.name() == name)
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Interactions => INTERACTIONS,
            Table::Contexts => CONTEXTS,
            Table::Attachments => ATTACHMENTS,
            Table::Links => LINKS,
            Table::Mentions => MENTIONS,
        }
    }

    /// The Arrow schema of the table's Parquet files (without the hive partition column).
    pub fn arrow_schema(self) -> SchemaRef {
        let fields: Vec<Field> =
            self.columns().iter().map(|column| Field::new(column.name, column.kind.arrow(), column.nullable)).collect();
        Arc::new(Schema::new(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_round_trip() {
        for table in Table::ALL {
            assert_eq!(Table::from_name(table.name()), Some(table));
        }
        assert_eq!(Table::from_name("users"), None);
    }

    #[test]
    fn child_tables_start_with_key_and_ordinal() {
        for table in &Table::ALL[1..] {
            let names: Vec<&str> = table.columns().iter().take(4).map(|c| c.name).collect();
            assert_eq!(names, ["user_id", "session_id", "interaction_id", "ordinal"]);
        }
    }

    #[test]
    fn only_keys_are_required() {
        for table in Table::ALL {
            for column in table.columns() {
                let is_key = matches!(column.name, "user_id" | "session_id" | "interaction_id" | "ordinal");
                assert_eq!(!column.nullable, is_key, "{}.{}", table.name(), column.name);
            }
        }
    }
}

//! The `schema` command's output, generated from the table definitions: JSON, DuckDB views over
//! `read_parquet`, Spark tables, and Trino tables of the Hive connector.

use serde_json::json;

use super::schema::{PARTITION_COLUMN, Table};

/// The version of the JSON schema document.
pub const SCHEMA_FORMAT_VERSION: u32 = 1;

pub fn json_schema() -> String {
    let tables: Vec<_> = Table::ALL
        .iter()
        .map(|table| {
            let columns: Vec<_> = table
                .columns()
                .iter()
                .map(|c| json!({ "name": c.name, "type": c.kind.json_name(), "nullable": c.nullable }))
                .collect();
            json!({ "name": table.name(), "columns": columns })
        })
        .collect();
    let document = json!({
        "format_version": SCHEMA_FORMAT_VERSION,
        "partition_column": { "name": PARTITION_COLUMN, "type": "date" },
        "tables": tables,
    });
    // Serializing a `Value` built above cannot fail.
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

fn quote_sql(text: &str) -> String {
    text.replace('\'', "''")
}

/// DuckDB views, one per table, that read the lake with hive partitioning and name every column
/// with its type, so a schema drift shows up as an error instead of a silent change.
pub fn duckdb_ddl(lake: &str) -> String {
    let mut out = String::from("-- copilot-lake tables as DuckDB views. Run with: duckdb -init <this file>\n");
    let lake = quote_sql(lake.trim_end_matches('/'));
    for table in Table::ALL {
        let columns: Vec<String> = table
            .columns()
            .iter()
            .map(|c| format!("    CAST({0} AS {1}) AS {0}", c.name, c.kind.duckdb()))
            .chain([format!("    CAST({PARTITION_COLUMN} AS DATE) AS {PARTITION_COLUMN}")])
            .collect();
        out.push_str(&format!(
            "\nCREATE OR REPLACE VIEW {name} AS\nSELECT\n{columns}\nFROM read_parquet('{lake}/{name}/**/*.parquet', hive_partitioning = true);\n",
            name = table.name(),
            columns = columns.join(",\n"),
        ));
    }
    out
}

/// Spark external tables over the lake's folders, partitioned by `date`.
pub fn spark_ddl(lake: &str) -> String {
    let mut out = String::from(
        "-- copilot-lake tables for Spark SQL. After creating them, run MSCK REPAIR TABLE <name> to discover partitions.\n",
    );
    let lake = quote_sql(lake.trim_end_matches('/'));
    for table in Table::ALL {
        let columns: Vec<String> = table
            .columns()
            .iter()
            .map(|c| {
                let not_null = if c.nullable { "" } else { " NOT NULL" };
                format!("    {} {}{}", c.name, c.kind.spark(), not_null)
            })
            .chain([format!("    {PARTITION_COLUMN} DATE")])
            .collect();
        out.push_str(&format!(
            "\nCREATE TABLE IF NOT EXISTS {name} (\n{columns}\n)\nUSING parquet\nPARTITIONED BY ({PARTITION_COLUMN})\nLOCATION '{lake}/{name}';\n",
            name = table.name(),
            columns = columns.join(",\n"),
        ));
    }
    out
}

/// The header of the Trino DDL: the catalog setting the timestamp columns need, and how to
/// register partitions, which the Hive connector does not discover by itself.
const TRINO_HEADER: &str = "\
-- copilot-lake tables for Trino's Hive connector: external tables over the lake's folders.
-- The lake location must be an absolute URI the catalog can read, such as s3://bucket/prefix.
-- created_date_time is timestamp(6) in UTC, so the catalog needs hive.timestamp-precision=MICROSECONDS.
-- With the default MILLISECONDS, Trino rejects the column: declare it timestamp(3) to read
-- milliseconds instead. The Hive connector has no NOT NULL, but the key columns user_id,
-- session_id, interaction_id and ordinal are never null.
-- After creating the tables, and after every sync that adds dates, register the partitions:
--   CALL system.sync_partition_metadata('<schema>', '<table>', 'ADD');
";

/// Trino external tables of the Hive connector over the lake's folders, partitioned by `date`.
pub fn trino_ddl(lake: &str) -> String {
    let mut out = String::from(TRINO_HEADER);
    let lake = quote_sql(lake.trim_end_matches('/'));
    for table in Table::ALL {
        let columns: Vec<String> = table
            .columns()
            .iter()
            .map(|c| format!("    {} {}", c.name, c.kind.trino()))
            .chain([format!("    {PARTITION_COLUMN} date")])
            .collect();
        out.push_str(&format!(
            "\nCREATE TABLE IF NOT EXISTS {name} (\n{columns}\n)\nWITH (\n    external_location = '{lake}/{name}',\n    format = 'PARQUET',\n    partitioned_by = ARRAY['{PARTITION_COLUMN}']\n);\n",
            name = table.name(),
            columns = columns.join(",\n"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lists_every_column() {
        let document: serde_json::Value = serde_json::from_str(&json_schema()).expect("JSON");
        let tables = document["tables"].as_array().expect("tables");
        assert_eq!(tables.len(), 5);
        let mentions = &tables[4];
        assert_eq!(mentions["name"], "mentions");
        assert_eq!(mentions["columns"].as_array().expect("columns").len(), Table::Mentions.columns().len());
    }

    #[test]
    fn ddl_quotes_the_lake_path() {
        let ddl = duckdb_ddl("/data/o'brien/lake/");
        assert!(ddl.contains("read_parquet('/data/o''brien/lake/interactions/**/*.parquet'"));
        let spark = spark_ddl("s3a://bucket/lake");
        assert!(spark.contains("LOCATION 's3a://bucket/lake/mentions'"));
        assert!(spark.contains("mention_id INT,"));
        let trino = trino_ddl("s3://bucket/o'brien/");
        assert!(trino.contains("external_location = 's3://bucket/o''brien/links',"));
    }

    #[test]
    fn trino_tables_end_with_the_partition() {
        let ddl = trino_ddl("s3://bucket/lake");
        assert_eq!(ddl.matches("CREATE TABLE IF NOT EXISTS").count(), Table::ALL.len());
        assert_eq!(ddl.matches("partitioned_by = ARRAY['date']").count(), Table::ALL.len());
        assert!(ddl.contains("    created_date_time timestamp(6),\n"));
        assert!(ddl.contains("    mention_id integer,\n"));
        assert!(ddl.contains("    body_text varchar,\n    date date\n)"), "date is the last column");
        let column_lines = ddl.lines().filter(|line| line.starts_with("    "));
        for line in column_lines {
            assert!(!line.contains("NOT NULL"), "the Hive connector has no NOT NULL: {line}");
        }
    }
}

//! The `schema` command's output, generated from the table definitions: JSON, DuckDB views over
//! `read_parquet`, and Spark tables.

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
    let mut out = String::from("-- copilot-lake tables for Spark SQL. After creating them, run MSCK REPAIR TABLE <name> to discover partitions.\n");
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
    }
}

"""Checks a copilot-lake lake the way Spark reads it, and runs examples/spark_read.py on it.

Usage: check_spark.py LAKE EXPECTED_JSON RESULTS_JSON

EXPECTED_JSON is a file with:
  "counts": table name -> row count the simulator served,
  "types":  table name -> [[column, Spark type], ...] in file order, `date` last,
  "ddl":    a file with the Spark DDL of `copilot-lake schema --format spark` for LAKE.
Prints one line per check and exits 1 on the first failed check. Then writes the results of
the example queries to RESULTS_JSON, as in run_examples.py. Everything runs in one Spark
session, because starting Spark takes most of the time.
"""

import datetime
import importlib.util
import json
import os
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
KEY = ["user_id", "session_id", "interaction_id"]


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        sys.exit(1)


def load_example():
    spec = importlib.util.spec_from_file_location("spark_read", os.path.join(EXAMPLES, "spark_read.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plain(value):
    if isinstance(value, datetime.datetime):
        # The session time zone is UTC, so naive times from collect() are UTC.
        return value.replace(tzinfo=value.tzinfo or datetime.timezone.utc).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def check_tables(spark, lake, expected):
    tables = {}
    for table, count in expected["counts"].items():
        frame = spark.read.parquet(f"{lake}/{table}")
        tables[table] = frame
        types = [[field.name, field.dataType.simpleString()] for field in frame.schema.fields]
        check(types == expected["types"][table], f"{table}: Spark types {types}")
        rows = frame.count()
        check(rows == count, f"{table}: {rows} rows, expected {count}")

    interactions = tables["interactions"]
    for table, frame in tables.items():
        if table == "interactions":
            continue
        joined = frame.join(interactions, KEY + ["date"], "inner").count()
        expected_rows = expected["counts"][table]
        check(joined == expected_rows, f"{table} joined with interactions: {joined} rows, expected {expected_rows}")


def check_ddl(spark, expected):
    """Creates the tables of the Spark DDL, discovers their partitions and counts their rows."""
    with open(expected["ddl"], encoding="utf-8") as file:
        ddl = file.read()
    spark.sql("CREATE DATABASE IF NOT EXISTS copilot_lake")
    spark.sql("USE copilot_lake")
    for statement in ddl.split(";"):
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if body:
            spark.sql(body)
    for table, count in expected["counts"].items():
        spark.sql(f"MSCK REPAIR TABLE {table}")
        rows = spark.table(table).count()
        check(rows == count, f"DDL table {table}: {rows} rows, expected {count}")
    spark.sql("USE default")


def run_examples(spark, lake):
    example = load_example()
    example.register_tables(spark, lake)
    results = {}
    for name in example.QUERIES:
        rows = example.run_query(spark, name).collect()
        results[name] = [{c: plain(v) for c, v in row.asDict().items()} for row in rows]
    return results


def main():
    lake, expected_path, results_path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(expected_path, encoding="utf-8") as file:
        expected = json.load(file)

    example = load_example()
    spark = example.local_session("copilot-lake-tests")
    spark.sparkContext.setLogLevel("ERROR")
    try:
        check_tables(spark, lake, expected)
        check_ddl(spark, expected)
        results = run_examples(spark, lake)
    finally:
        spark.stop()
    with open(results_path, "w", encoding="utf-8") as file:
        json.dump(results, file, ensure_ascii=False)
    print("ok   example queries ran: " + ", ".join(results), flush=True)


if __name__ == "__main__":
    main()

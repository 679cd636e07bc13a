"""Checks a copilot-lake lake the way an analyst reads it: DuckDB with hive partitioning.

Usage: check_lake.py LAKE EXPECTED_JSON
EXPECTED_JSON maps each table name to the row count the simulator served.
Prints one line per check and exits 1 on the first failed check.
"""

import json
import sys

import duckdb

TABLES = ["interactions", "contexts", "attachments", "links", "mentions"]
KEY = "user_id, session_id, interaction_id"


def scan(lake, table):
    return f"read_parquet('{lake}/{table}/**/*.parquet', hive_partitioning = true)"


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message)
    if not condition:
        sys.exit(1)


def main():
    lake, expected = sys.argv[1], json.loads(sys.argv[2])
    con = duckdb.connect()

    for table in TABLES:
        rows = con.execute(f"SELECT count(*) FROM {scan(lake, table)}").fetchone()[0]
        check(rows == expected[table], f"{table}: {rows} rows, expected {expected[table]}")

    duplicates = con.execute(
        f"SELECT count(*) FROM (SELECT {KEY} FROM {scan(lake, 'interactions')} GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]
    check(duplicates == 0, f"interactions: {duplicates} duplicate keys")

    for table in TABLES[1:]:
        duplicates = con.execute(
            f"SELECT count(*) FROM (SELECT {KEY}, ordinal FROM {scan(lake, table)} GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
        check(duplicates == 0, f"{table}: {duplicates} duplicate keys")
        orphans = con.execute(
            f"SELECT count(*) FROM {scan(lake, table)} c ANTI JOIN {scan(lake, 'interactions')} i USING ({KEY})"
        ).fetchone()[0]
        check(orphans == 0, f"{table}: {orphans} rows without a parent interaction")
        misplaced = con.execute(
            f"SELECT count(*) FROM {scan(lake, table)} c JOIN {scan(lake, 'interactions')} i USING ({KEY}) "
            "WHERE c.date <> i.date"
        ).fetchone()[0]
        check(misplaced == 0, f"{table}: {misplaced} rows in another partition than their parent")

    wrong_dates = con.execute(
        f"SELECT count(*) FROM {scan(lake, 'interactions')} "
        "WHERE date <> CAST(timezone('UTC', created_date_time) AS DATE)"
    ).fetchone()[0]
    check(wrong_dates == 0, f"interactions: {wrong_dates} rows whose partition is not the UTC date")

    column_type = con.execute(
        f"SELECT typeof(created_date_time) FROM {scan(lake, 'interactions')} LIMIT 1"
    ).fetchone()[0]
    check(column_type == "TIMESTAMP WITH TIME ZONE", f"created_date_time is {column_type}")


if __name__ == "__main__":
    main()

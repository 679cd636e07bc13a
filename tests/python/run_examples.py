"""Runs the analyst examples on a lake and prints their results as JSON.

Usage: run_examples.py duckdb|polars LAKE_PARENT

LAKE_PARENT is the folder that contains the lake as `copilot-lake-demo`, which is where the
examples expect it: the script changes into it, runs examples/duckdb_queries.sql statement by
statement (or every query of examples/polars_read.py), and prints one JSON object that maps each
named query to its rows, as lists of column name to value. Dates and times become ISO 8601
strings.
"""

import datetime
import importlib.util
import json
import os
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
LAKE = "copilot-lake-demo"


def statements(sql):
    """Yields (name, statement) for each statement of a SQL file, where name is the value of the
    last `-- name:` line before the statement, or None. A statement ends at a line that ends
    with `;` outside a comment."""
    name, lines = None, []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            if stripped.startswith("-- name:") and not lines:
                name = stripped[len("-- name:"):].strip()
            continue
        if stripped:
            lines.append(line)
        if stripped.endswith(";"):
            yield name, "\n".join(lines)
            name, lines = None, []
    if lines:
        yield name, "\n".join(lines)


def plain(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def run_duckdb():
    import duckdb

    with open(os.path.join(EXAMPLES, "duckdb_queries.sql"), encoding="utf-8") as file:
        sql = file.read()
    con = duckdb.connect()
    results = {}
    for name, statement in statements(sql):
        if name is None:
            con.execute(statement)
            continue
        # Arrow converts TIMESTAMP WITH TIME ZONE without pytz, which fetchall() needs.
        rows = con.sql(statement).to_arrow_table().to_pylist()
        results[name] = [{c: plain(v) for c, v in row.items()} for row in rows]
    return results


def run_polars():
    spec = importlib.util.spec_from_file_location("polars_read", os.path.join(EXAMPLES, "polars_read.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = {}
    for name, query in module.QUERIES.items():
        frame = query(LAKE)
        results[name] = [{c: plain(v) for c, v in row.items()} for row in frame.iter_rows(named=True)]
    return results


def main():
    engine, parent = sys.argv[1], sys.argv[2]
    os.chdir(parent)
    runners = {"duckdb": run_duckdb, "polars": run_polars}
    json.dump(runners[engine](), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()

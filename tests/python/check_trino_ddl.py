"""Parses the Trino DDL of copilot-lake as Trino SQL and prints what each table declares.

Usage: check_trino_ddl.py DDL_FILE

Prints one line per CREATE TABLE: `name: column,column,... partitioned by P at LOCATION`.
Exits 1 when the file does not parse as Trino SQL or a statement is not a CREATE TABLE with
the Hive connector's properties.
"""

import sys

import sqlglot
from sqlglot import exp


def properties(create):
    values = {}
    for prop in create.args["properties"].expressions:
        key = prop.name.lower() if type(prop) is exp.Property else type(prop).__name__.lower()
        values[key] = prop
    return values


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        ddl = file.read()
    statements = sqlglot.parse(ddl, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    for create in statements:
        if not isinstance(create, exp.Create) or create.kind != "TABLE":
            sys.exit(f"not a CREATE TABLE: {create.sql('trino')}")
        schema = create.this
        columns = [column.name for column in schema.expressions]
        props = properties(create)
        location = props["external_location"].args["value"].name
        partitioned = props["partitionedbyproperty"].this.expressions
        file_format = props["fileformatproperty"].this.name
        if file_format.upper() != "PARQUET":
            sys.exit(f"{schema.this.name}: format {file_format}")
        partition = ",".join(value.name for value in partitioned)
        print(f"{schema.this.name}: {','.join(columns)} partitioned by {partition} at {location}")


if __name__ == "__main__":
    main()

"""DuckDB's version of the offline benchmark: saved Graph pages -> the five tables as Parquet,
partitioned by the UTC date of createdDateTime, rows sorted within each file as copilot-lake
sorts them, zstd.

Usage: duckdb_flatten.py PAGES_DIR OUT_DIR THREADS

PAGES_DIR has the layout `user_id=<id>/page-NNNNN.json` that
`cargo bench --bench pipeline -- save-pages` writes. Prints one JSON line with the rows per table.

What copilot-lake does and this script does not:
- derive body_text from HTML and Adaptive Cards (here a regular expression strips the tags);
- map appClass to an app name;
- skip keys already in the lake, stage the files and commit them.
Ordinals match: both number list elements from 0 before dropping null elements.
"""

import json
import os
import sys

import duckdb

IDENTITY = "STRUCT(id VARCHAR, displayName VARCHAR, userIdentityType VARCHAR, applicationIdentityType VARCHAR, conversationIdentityType VARCHAR, tenantId VARCHAR)"
RECORD = f"""STRUCT(
    id VARCHAR, sessionId VARCHAR, requestId VARCHAR, appClass VARCHAR, interactionType VARCHAR,
    conversationType VARCHAR, etag VARCHAR, createdDateTime VARCHAR, locale VARCHAR,
    "from" STRUCT("user" {IDENTITY}, application {IDENTITY}, device JSON),
    body STRUCT(contentType VARCHAR, "content" VARCHAR),
    contexts STRUCT(contextReference VARCHAR, contextType VARCHAR, displayName VARCHAR)[],
    attachments STRUCT(attachmentId VARCHAR, contentType VARCHAR, contentUrl VARCHAR, "content" VARCHAR, "name" VARCHAR)[],
    links STRUCT(linkUrl VARCHAR, linkType VARCHAR, displayName VARCHAR)[],
    mentions STRUCT(mentionId INTEGER, mentionText VARCHAR, mentioned STRUCT("user" {IDENTITY}, application {IDENTITY}, conversation {IDENTITY}, tag {IDENTITY}))[]
)"""

CHILDREN = {
    "contexts": "c.contextReference AS context_reference, c.contextType AS context_type, c.displayName AS display_name",
    "attachments": "c.attachmentId AS attachment_id, c.contentType AS content_type, c.contentUrl AS content_url, c.content AS content, c.name AS name",
    "links": "c.linkUrl AS link_url, c.linkType AS link_type, c.displayName AS display_name",
    "mentions": """c.mentionId AS mention_id, c.mentionText AS mention_text,
        c.mentioned.user.id AS mentioned_user_id, c.mentioned.user.displayName AS mentioned_user_display_name,
        c.mentioned.application.id AS mentioned_application_id, c.mentioned.application.displayName AS mentioned_application_display_name,
        c.mentioned.conversation.id AS mentioned_conversation_id, c.mentioned.conversation.displayName AS mentioned_conversation_display_name,
        c.mentioned.conversation.conversationIdentityType AS mentioned_conversation_identity_type,
        c.mentioned.tag.id AS mentioned_tag_id, c.mentioned.tag.displayName AS mentioned_tag_display_name""",
}

INTERACTIONS = """
SELECT user_id, r.sessionId AS session_id, r.id AS interaction_id, r.requestId AS request_id,
    r.appClass AS app_class, r.interactionType AS interaction_type, r.conversationType AS conversation_type,
    r.etag AS etag, created AS created_date_time, r.locale AS locale,
    r."from".user.id AS from_user_id, r."from".user.displayName AS from_user_display_name,
    r."from".user.userIdentityType AS from_user_identity_type, r."from".user.tenantId AS from_user_tenant_id,
    r."from".application.id AS from_application_id, r."from".application.displayName AS from_application_display_name,
    r."from".application.applicationIdentityType AS from_application_identity_type,
    coalesce(r."from".device->>'id', r."from".device->>'$') AS from_device_id, r."from".device->>'displayName' AS from_device_display_name,
    r.body.contentType AS body_content_type, r.body.content AS body_content,
    CASE WHEN r.body.contentType = 'html' THEN regexp_replace(r.body.content, '<[^>]*>', '', 'g') ELSE r.body.content END AS body_text,
    date
FROM records ORDER BY user_id, created_date_time, session_id, interaction_id
"""


def child_query(field: str) -> str:
    return f"""
SELECT user_id, session_id, interaction_id, CAST(ordinal - 1 AS INTEGER) AS ordinal, {CHILDREN[field]}, date
FROM (SELECT user_id, r.sessionId AS session_id, r.id AS interaction_id, date,
             unnest(r.{field}) AS c, generate_subscripts(r.{field}, 1) AS ordinal
      FROM records WHERE len(r.{field}) > 0)
WHERE c IS NOT NULL
ORDER BY user_id, session_id, interaction_id, ordinal
"""


def main() -> None:
    pages, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"""CREATE TEMP TABLE records AS
        SELECT user_id, r, CAST(r.createdDateTime AS TIMESTAMPTZ) AS created, CAST(CAST(r.createdDateTime AS TIMESTAMPTZ) AS DATE) AS date
        FROM (SELECT user_id, unnest(value) AS r
              FROM read_json('{pages}/*/*.json', hive_partitioning = true, format = 'auto',
                             columns = {{'value': '{RECORD}[]'}}, maximum_object_size = 268435456))"""
    )
    queries = {"interactions": INTERACTIONS, **{field: child_query(field) for field in CHILDREN}}
    rows = {}
    for table, query in queries.items():
        result = con.execute(
            f"COPY ({query}) TO '{out}/{table}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date), RETURN_STATS false)"
        ).fetchall()
        rows[table] = result[0][0] if result else None
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()

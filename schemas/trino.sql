-- copilot-lake tables for Trino's Hive connector: external tables over the lake's folders.
-- The lake location must be an absolute URI the catalog can read, such as s3://bucket/prefix.
-- created_date_time is timestamp(6) in UTC, so the catalog needs hive.timestamp-precision=MICROSECONDS.
-- With the default MILLISECONDS, Trino rejects the column: declare it timestamp(3) to read
-- milliseconds instead. The Hive connector has no NOT NULL, but the key columns user_id,
-- session_id, interaction_id and ordinal are never null.
-- After creating the tables, and after every sync that adds dates, register the partitions:
--   CALL system.sync_partition_metadata('<schema>', '<table>', 'ADD');

CREATE TABLE IF NOT EXISTS interactions (
    user_id varchar,
    session_id varchar,
    interaction_id varchar,
    request_id varchar,
    app_class varchar,
    interaction_type varchar,
    conversation_type varchar,
    etag varchar,
    created_date_time timestamp(6),
    locale varchar,
    from_user_id varchar,
    from_user_display_name varchar,
    from_user_identity_type varchar,
    from_user_tenant_id varchar,
    from_application_id varchar,
    from_application_display_name varchar,
    from_application_identity_type varchar,
    from_device_id varchar,
    from_device_display_name varchar,
    body_content_type varchar,
    body_content varchar,
    app varchar,
    body_text varchar,
    date date
)
WITH (
    external_location = 's3://my-bucket/copilot-lake/interactions',
    format = 'PARQUET',
    partitioned_by = ARRAY['date']
);

CREATE TABLE IF NOT EXISTS contexts (
    user_id varchar,
    session_id varchar,
    interaction_id varchar,
    ordinal integer,
    context_reference varchar,
    context_type varchar,
    display_name varchar,
    date date
)
WITH (
    external_location = 's3://my-bucket/copilot-lake/contexts',
    format = 'PARQUET',
    partitioned_by = ARRAY['date']
);

CREATE TABLE IF NOT EXISTS attachments (
    user_id varchar,
    session_id varchar,
    interaction_id varchar,
    ordinal integer,
    attachment_id varchar,
    content_type varchar,
    content_url varchar,
    content varchar,
    name varchar,
    date date
)
WITH (
    external_location = 's3://my-bucket/copilot-lake/attachments',
    format = 'PARQUET',
    partitioned_by = ARRAY['date']
);

CREATE TABLE IF NOT EXISTS links (
    user_id varchar,
    session_id varchar,
    interaction_id varchar,
    ordinal integer,
    link_url varchar,
    link_type varchar,
    display_name varchar,
    date date
)
WITH (
    external_location = 's3://my-bucket/copilot-lake/links',
    format = 'PARQUET',
    partitioned_by = ARRAY['date']
);

CREATE TABLE IF NOT EXISTS mentions (
    user_id varchar,
    session_id varchar,
    interaction_id varchar,
    ordinal integer,
    mention_id integer,
    mention_text varchar,
    mentioned_user_id varchar,
    mentioned_user_display_name varchar,
    mentioned_application_id varchar,
    mentioned_application_display_name varchar,
    mentioned_conversation_id varchar,
    mentioned_conversation_display_name varchar,
    mentioned_conversation_identity_type varchar,
    mentioned_tag_id varchar,
    mentioned_tag_display_name varchar,
    date date
)
WITH (
    external_location = 's3://my-bucket/copilot-lake/mentions',
    format = 'PARQUET',
    partitioned_by = ARRAY['date']
);

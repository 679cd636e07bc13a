-- copilot-lake tables for Spark SQL. After creating them, run MSCK REPAIR TABLE <name> to discover partitions.

CREATE TABLE IF NOT EXISTS interactions (
    user_id STRING NOT NULL,
    session_id STRING NOT NULL,
    interaction_id STRING NOT NULL,
    request_id STRING,
    app_class STRING,
    interaction_type STRING,
    conversation_type STRING,
    etag STRING,
    created_date_time TIMESTAMP,
    locale STRING,
    from_user_id STRING,
    from_user_display_name STRING,
    from_user_identity_type STRING,
    from_user_tenant_id STRING,
    from_application_id STRING,
    from_application_display_name STRING,
    from_application_identity_type STRING,
    from_device_id STRING,
    from_device_display_name STRING,
    body_content_type STRING,
    body_content STRING,
    app STRING,
    body_text STRING,
    date DATE
)
USING parquet
PARTITIONED BY (date)
LOCATION 'copilot-lake-demo/interactions';

CREATE TABLE IF NOT EXISTS contexts (
    user_id STRING NOT NULL,
    session_id STRING NOT NULL,
    interaction_id STRING NOT NULL,
    ordinal INT NOT NULL,
    context_reference STRING,
    context_type STRING,
    display_name STRING,
    date DATE
)
USING parquet
PARTITIONED BY (date)
LOCATION 'copilot-lake-demo/contexts';

CREATE TABLE IF NOT EXISTS attachments (
    user_id STRING NOT NULL,
    session_id STRING NOT NULL,
    interaction_id STRING NOT NULL,
    ordinal INT NOT NULL,
    attachment_id STRING,
    content_type STRING,
    content_url STRING,
    content STRING,
    name STRING,
    date DATE
)
USING parquet
PARTITIONED BY (date)
LOCATION 'copilot-lake-demo/attachments';

CREATE TABLE IF NOT EXISTS links (
    user_id STRING NOT NULL,
    session_id STRING NOT NULL,
    interaction_id STRING NOT NULL,
    ordinal INT NOT NULL,
    link_url STRING,
    link_type STRING,
    display_name STRING,
    date DATE
)
USING parquet
PARTITIONED BY (date)
LOCATION 'copilot-lake-demo/links';

CREATE TABLE IF NOT EXISTS mentions (
    user_id STRING NOT NULL,
    session_id STRING NOT NULL,
    interaction_id STRING NOT NULL,
    ordinal INT NOT NULL,
    mention_id INT,
    mention_text STRING,
    mentioned_user_id STRING,
    mentioned_user_display_name STRING,
    mentioned_application_id STRING,
    mentioned_application_display_name STRING,
    mentioned_conversation_id STRING,
    mentioned_conversation_display_name STRING,
    mentioned_conversation_identity_type STRING,
    mentioned_tag_id STRING,
    mentioned_tag_display_name STRING,
    date DATE
)
USING parquet
PARTITIONED BY (date)
LOCATION 'copilot-lake-demo/mentions';

-- copilot-lake tables as DuckDB views. Run with: duckdb -init <this file>

CREATE OR REPLACE VIEW interactions AS
SELECT
    CAST(user_id AS VARCHAR) AS user_id,
    CAST(session_id AS VARCHAR) AS session_id,
    CAST(interaction_id AS VARCHAR) AS interaction_id,
    CAST(request_id AS VARCHAR) AS request_id,
    CAST(app_class AS VARCHAR) AS app_class,
    CAST(interaction_type AS VARCHAR) AS interaction_type,
    CAST(conversation_type AS VARCHAR) AS conversation_type,
    CAST(etag AS VARCHAR) AS etag,
    CAST(created_date_time AS TIMESTAMP WITH TIME ZONE) AS created_date_time,
    CAST(locale AS VARCHAR) AS locale,
    CAST(from_user_id AS VARCHAR) AS from_user_id,
    CAST(from_user_display_name AS VARCHAR) AS from_user_display_name,
    CAST(from_user_identity_type AS VARCHAR) AS from_user_identity_type,
    CAST(from_user_tenant_id AS VARCHAR) AS from_user_tenant_id,
    CAST(from_application_id AS VARCHAR) AS from_application_id,
    CAST(from_application_display_name AS VARCHAR) AS from_application_display_name,
    CAST(from_application_identity_type AS VARCHAR) AS from_application_identity_type,
    CAST(from_device_id AS VARCHAR) AS from_device_id,
    CAST(from_device_display_name AS VARCHAR) AS from_device_display_name,
    CAST(body_content_type AS VARCHAR) AS body_content_type,
    CAST(body_content AS VARCHAR) AS body_content,
    CAST(app AS VARCHAR) AS app,
    CAST(body_text AS VARCHAR) AS body_text,
    CAST(date AS DATE) AS date
FROM read_parquet('copilot-lake-demo/interactions/**/*.parquet', hive_partitioning = true);

CREATE OR REPLACE VIEW contexts AS
SELECT
    CAST(user_id AS VARCHAR) AS user_id,
    CAST(session_id AS VARCHAR) AS session_id,
    CAST(interaction_id AS VARCHAR) AS interaction_id,
    CAST(ordinal AS INTEGER) AS ordinal,
    CAST(context_reference AS VARCHAR) AS context_reference,
    CAST(context_type AS VARCHAR) AS context_type,
    CAST(display_name AS VARCHAR) AS display_name,
    CAST(date AS DATE) AS date
FROM read_parquet('copilot-lake-demo/contexts/**/*.parquet', hive_partitioning = true);

CREATE OR REPLACE VIEW attachments AS
SELECT
    CAST(user_id AS VARCHAR) AS user_id,
    CAST(session_id AS VARCHAR) AS session_id,
    CAST(interaction_id AS VARCHAR) AS interaction_id,
    CAST(ordinal AS INTEGER) AS ordinal,
    CAST(attachment_id AS VARCHAR) AS attachment_id,
    CAST(content_type AS VARCHAR) AS content_type,
    CAST(content_url AS VARCHAR) AS content_url,
    CAST(content AS VARCHAR) AS content,
    CAST(name AS VARCHAR) AS name,
    CAST(date AS DATE) AS date
FROM read_parquet('copilot-lake-demo/attachments/**/*.parquet', hive_partitioning = true);

CREATE OR REPLACE VIEW links AS
SELECT
    CAST(user_id AS VARCHAR) AS user_id,
    CAST(session_id AS VARCHAR) AS session_id,
    CAST(interaction_id AS VARCHAR) AS interaction_id,
    CAST(ordinal AS INTEGER) AS ordinal,
    CAST(link_url AS VARCHAR) AS link_url,
    CAST(link_type AS VARCHAR) AS link_type,
    CAST(display_name AS VARCHAR) AS display_name,
    CAST(date AS DATE) AS date
FROM read_parquet('copilot-lake-demo/links/**/*.parquet', hive_partitioning = true);

CREATE OR REPLACE VIEW mentions AS
SELECT
    CAST(user_id AS VARCHAR) AS user_id,
    CAST(session_id AS VARCHAR) AS session_id,
    CAST(interaction_id AS VARCHAR) AS interaction_id,
    CAST(ordinal AS INTEGER) AS ordinal,
    CAST(mention_id AS INTEGER) AS mention_id,
    CAST(mention_text AS VARCHAR) AS mention_text,
    CAST(mentioned_user_id AS VARCHAR) AS mentioned_user_id,
    CAST(mentioned_user_display_name AS VARCHAR) AS mentioned_user_display_name,
    CAST(mentioned_application_id AS VARCHAR) AS mentioned_application_id,
    CAST(mentioned_application_display_name AS VARCHAR) AS mentioned_application_display_name,
    CAST(mentioned_conversation_id AS VARCHAR) AS mentioned_conversation_id,
    CAST(mentioned_conversation_display_name AS VARCHAR) AS mentioned_conversation_display_name,
    CAST(mentioned_conversation_identity_type AS VARCHAR) AS mentioned_conversation_identity_type,
    CAST(mentioned_tag_id AS VARCHAR) AS mentioned_tag_id,
    CAST(mentioned_tag_display_name AS VARCHAR) AS mentioned_tag_display_name,
    CAST(date AS DATE) AS date
FROM read_parquet('copilot-lake-demo/mentions/**/*.parquet', hive_partitioning = true);

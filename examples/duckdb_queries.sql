-- Questions analysts ask of a copilot-lake lake, answered in DuckDB.
--
-- Run from the folder that contains the lake (`copilot-lake demo` writes ./copilot-lake-demo):
--   duckdb < examples/duckdb_queries.sql
-- For another lake, change the five paths below. `copilot-lake schema --format duckdb --lake PATH`
-- prints the same views with every column's type spelled out.
--
-- Each query starts with a `-- name:` line. The tests run this file as it is and compare every
-- named result with values computed from the simulator's data.

CREATE OR REPLACE VIEW interactions AS
SELECT * FROM read_parquet('copilot-lake-demo/interactions/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW contexts AS
SELECT * FROM read_parquet('copilot-lake-demo/contexts/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW attachments AS
SELECT * FROM read_parquet('copilot-lake-demo/attachments/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW links AS
SELECT * FROM read_parquet('copilot-lake-demo/links/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW mentions AS
SELECT * FROM read_parquet('copilot-lake-demo/mentions/**/*.parquet', hive_partitioning = true);

-- A Teams meeting session is in the history of every participant, so a prompt counts only for
-- the user who wrote it: `from_user_id = user_id`.
CREATE OR REPLACE VIEW own_prompts AS
SELECT * FROM interactions
WHERE interaction_type = 'userPrompt' AND from_user_id = user_id;

-- name: adoption_by_app_per_day
-- Users who prompted Copilot, and their prompts, per app and UTC day.
SELECT date, app, count(DISTINCT user_id) AS users, count(*) AS prompts
FROM own_prompts
GROUP BY date, app
ORDER BY date, app;

-- name: active_users_per_week
-- Users with at least one prompt in the week (weeks start on Monday).
SELECT CAST(date_trunc('week', date) AS DATE) AS week, count(DISTINCT user_id) AS active_users, count(*) AS prompts
FROM own_prompts
GROUP BY week
ORDER BY week;

-- name: prompts_per_user
SELECT user_id, count(*) AS prompts, count(DISTINCT session_id) AS sessions, min(date) AS first_day, max(date) AS last_day
FROM own_prompts
GROUP BY user_id
ORDER BY prompts DESC, user_id;

-- Each response paired with the prompt before it in the same session of the same user's
-- history. `request_id` is meant to link the two but is not reliable, and one prompt can have
-- several responses. `turn` numbers the prompts of a session, and a response belongs to the latest
-- one. Warm-up responses (body `{"IsWarmupRequest":"true"}`) answer no prompt and are left out.
CREATE OR REPLACE VIEW prompt_response_pairs AS
WITH turns AS (
    SELECT *,
        count(*) FILTER (WHERE interaction_type = 'userPrompt') OVER (
            PARTITION BY user_id, session_id
            ORDER BY created_date_time, interaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS turn
    FROM interactions
)
SELECT
    response.user_id,
    response.session_id,
    response.app,
    prompt.interaction_id AS prompt_id,
    response.interaction_id AS response_id,
    prompt.created_date_time AS prompted_at,
    response.created_date_time AS responded_at,
    prompt.body_text AS prompt_text,
    response.body_text AS response_text
FROM turns AS response
JOIN turns AS prompt
    ON prompt.user_id = response.user_id
    AND prompt.session_id = response.session_id
    AND prompt.turn = response.turn
    AND prompt.interaction_type = 'userPrompt'
WHERE response.interaction_type = 'aiResponse'
    AND response.body_content IS DISTINCT FROM '{"IsWarmupRequest":"true"}';

-- name: prompt_response_pairs
SELECT * FROM prompt_response_pairs
ORDER BY user_id, session_id, responded_at, response_id;

-- name: meeting_responses
-- Copilot's responses in Teams meetings, with the meeting they belong to. The API often gives a
-- meeting response no contexts, while its prompt has the TeamsMeeting context: take it from there.
SELECT pair.user_id, pair.response_id, context.context_reference AS meeting, pair.prompt_text, pair.response_text
FROM prompt_response_pairs AS pair
JOIN contexts AS context
    ON context.user_id = pair.user_id
    AND context.session_id = pair.session_id
    AND context.interaction_id = pair.prompt_id
WHERE context.context_type = 'TeamsMeeting'
ORDER BY pair.user_id, pair.responded_at, pair.response_id;

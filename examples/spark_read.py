"""Questions analysts ask of a copilot-lake lake, answered with PySpark.

Run from the folder that contains the lake (`copilot-lake demo` writes ./copilot-lake-demo):

    python examples/spark_read.py [LAKE]

`register_tables` reads every table with partition discovery, so `date` becomes a DATE column, and
registers it as a temporary view. The queries are the Spark SQL forms of those in
examples/duckdb_queries.sql. The tests import this file and compare the results with values
computed from the simulator's data.
"""

import sys

from pyspark.sql import SparkSession

TABLES = ["interactions", "contexts", "attachments", "links", "mentions"]

# A Teams meeting session is in the history of every participant, so a prompt counts only for
# the user who wrote it.
OWN_PROMPTS = """
    SELECT * FROM interactions
    WHERE interaction_type = 'userPrompt' AND from_user_id = user_id
"""

QUERIES = {
    "adoption_by_app_per_day": """
        SELECT date, app, count(DISTINCT user_id) AS users, count(*) AS prompts
        FROM own_prompts
        GROUP BY date, app
        ORDER BY date, app
    """,
    "active_users_per_week": """
        SELECT CAST(date_trunc('week', date) AS DATE) AS week,
               count(DISTINCT user_id) AS active_users, count(*) AS prompts
        FROM own_prompts
        GROUP BY 1
        ORDER BY week
    """,
    "prompts_per_user": """
        SELECT user_id, count(*) AS prompts, count(DISTINCT session_id) AS sessions,
               min(date) AS first_day, max(date) AS last_day
        FROM own_prompts
        GROUP BY user_id
        ORDER BY prompts DESC, user_id
    """,
    "prompt_response_pairs": """
        SELECT * FROM prompt_response_pairs
        ORDER BY user_id, session_id, responded_at, response_id
    """,
    "meeting_responses": """
        SELECT pair.user_id, pair.response_id, context.context_reference AS meeting,
               pair.prompt_text, pair.response_text
        FROM prompt_response_pairs AS pair
        JOIN contexts AS context
            ON context.user_id = pair.user_id
            AND context.session_id = pair.session_id
            AND context.interaction_id = pair.prompt_id
        WHERE context.context_type = 'TeamsMeeting'
        ORDER BY pair.user_id, pair.responded_at, pair.response_id
    """,
}

# Each response with the prompt before it in the same session of the same user's history:
# `turn` numbers the prompts of a session, and a response belongs to the latest one. Warm-up
# responses answer no prompt and are left out.
PROMPT_RESPONSE_PAIRS = """
    WITH turns AS (
        SELECT *,
            count_if(interaction_type = 'userPrompt') OVER (
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
        AND NOT (response.body_content <=> '{"IsWarmupRequest":"true"}')
"""


def local_session(app_name="copilot-lake"):
    """Return a local Spark session that binds to loopback only and keeps its times in UTC."""
    return (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def register_tables(spark, lake):
    """Registers each table of the lake, and the derived views, as temporary views."""
    for table in TABLES:
        spark.read.parquet(f"{lake}/{table}").createOrReplaceTempView(table)
    spark.sql(OWN_PROMPTS).createOrReplaceTempView("own_prompts")
    spark.sql(PROMPT_RESPONSE_PAIRS).createOrReplaceTempView("prompt_response_pairs")


def run_query(spark, name):
    return spark.sql(QUERIES[name])


def main():
    lake = sys.argv[1] if len(sys.argv) > 1 else "copilot-lake-demo"
    spark = local_session()
    spark.sparkContext.setLogLevel("ERROR")
    register_tables(spark, lake)
    for name in QUERIES:
        print(f"== {name}")
        run_query(spark, name).show(10, truncate=60)
    spark.stop()


if __name__ == "__main__":
    main()

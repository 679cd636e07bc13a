"""Questions analysts ask of a copilot-lake lake, answered with Polars.

Run from the folder that contains the lake (`copilot-lake demo` writes ./copilot-lake-demo):

    python examples/polars_read.py [LAKE]

Each function returns a DataFrame with the same columns as the query of the same name in
examples/duckdb_queries.sql. The tests import this file and compare the results with values
computed from the simulator's data.
"""

import sys

import polars as pl

WARM_UP_BODY = '{"IsWarmupRequest":"true"}'


def scan(lake, table):
    """Return a lazy scan of one table, with `date` from the `date=YYYY-MM-DD` folders as a Date."""
    return pl.scan_parquet(f"{lake}/{table}/**/*.parquet", hive_partitioning=True)


def own_prompts(lake):
    """Prompts counted for the user who wrote them: a Teams meeting session is in the history of
    every participant, so a prompt also shows up for users who did not type it."""
    return scan(lake, "interactions").filter(
        (pl.col("interaction_type") == "userPrompt") & (pl.col("from_user_id") == pl.col("user_id"))
    )


def adoption_by_app_per_day(lake):
    return (
        own_prompts(lake)
        .group_by("date", "app")
        .agg(pl.col("user_id").n_unique().alias("users"), pl.len().alias("prompts"))
        .sort("date", "app", nulls_last=False)
        .collect()
    )


def active_users_per_week(lake):
    return (
        own_prompts(lake)
        .with_columns(pl.col("date").dt.truncate("1w").alias("week"))
        .group_by("week")
        .agg(pl.col("user_id").n_unique().alias("active_users"), pl.len().alias("prompts"))
        .sort("week")
        .collect()
    )


def prompts_per_user(lake):
    return (
        own_prompts(lake)
        .group_by("user_id")
        .agg(
            pl.len().alias("prompts"),
            pl.col("session_id").n_unique().alias("sessions"),
            pl.col("date").min().alias("first_day"),
            pl.col("date").max().alias("last_day"),
        )
        .sort(["prompts", "user_id"], descending=[True, False])
        .collect()
    )


def prompt_response_pairs(lake):
    """Pair each response with the prompt before it in the same session of one user's history.

    `turn` numbers the prompts of a session in time order, and a response belongs to the latest
    one. Warm-up responses answer no prompt and are left out.
    """
    turns = (
        scan(lake, "interactions")
        .sort("user_id", "session_id", "created_date_time", "interaction_id")
        .with_columns(
            (pl.col("interaction_type") == "userPrompt").cast(pl.UInt32).cum_sum().over("user_id", "session_id").alias("turn")
        )
    )
    prompts = turns.filter(pl.col("interaction_type") == "userPrompt").select(
        "user_id",
        "session_id",
        "turn",
        pl.col("interaction_id").alias("prompt_id"),
        pl.col("created_date_time").alias("prompted_at"),
        pl.col("body_text").alias("prompt_text"),
    )
    responses = turns.filter(
        (pl.col("interaction_type") == "aiResponse") & (pl.col("body_content").ne_missing(WARM_UP_BODY))
    ).select(
        "user_id",
        "session_id",
        "turn",
        "app",
        pl.col("interaction_id").alias("response_id"),
        pl.col("created_date_time").alias("responded_at"),
        pl.col("body_text").alias("response_text"),
    )
    return (
        responses.join(prompts, on=["user_id", "session_id", "turn"], how="inner")
        .select(
            "user_id",
            "session_id",
            "app",
            "prompt_id",
            "response_id",
            "prompted_at",
            "responded_at",
            "prompt_text",
            "response_text",
        )
        .sort("user_id", "session_id", "responded_at", "response_id")
        .collect()
    )


def meeting_responses(lake):
    """Copilot's responses in Teams meetings, with the meeting taken from the prompt's context,
    because the API often gives the response itself no contexts."""
    meetings = (
        scan(lake, "contexts")
        .filter(pl.col("context_type") == "TeamsMeeting")
        .select("user_id", "session_id", pl.col("interaction_id").alias("prompt_id"), pl.col("context_reference").alias("meeting"))
    )
    return (
        prompt_response_pairs(lake)
        .lazy()
        .join(meetings, on=["user_id", "session_id", "prompt_id"], how="inner")
        .sort("user_id", "responded_at", "response_id")
        .select("user_id", "response_id", "meeting", "prompt_text", "response_text")
        .collect()
    )


QUERIES = {
    "adoption_by_app_per_day": adoption_by_app_per_day,
    "active_users_per_week": active_users_per_week,
    "prompts_per_user": prompts_per_user,
    "prompt_response_pairs": prompt_response_pairs,
    "meeting_responses": meeting_responses,
}


def main():
    lake = sys.argv[1] if len(sys.argv) > 1 else "copilot-lake-demo"
    for name, query in QUERIES.items():
        print(f"== {name}")
        print(query(lake))


if __name__ == "__main__":
    main()

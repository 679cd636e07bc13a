"""dlt's version of the end-to-end benchmark: its rest_api source reads every licensed user's
interaction history from the simulator (OAuth client credentials, @odata.nextLink paging) and
its filesystem destination writes Parquet. dlt's normalizer flattens nested objects into
columns and nested lists into child tables (interactions__contexts, __attachments, __links,
__mentions), the same five tables copilot-lake writes; it partitions by load, not by the
records' date.

Usage: dlt_sync.py BASE_URL OUT_DIR PIPELINES_DIR SINCE UNTIL

Prints one JSON line with the rows per table.
"""

import json
import sys

import dlt
from dlt.sources.rest_api import rest_api_source

COPILOT_SKU = "639dec6b-bb19-468b-871c-c5c441c4b0cb"


def source(base_url: str, since: str, until: str):
    return rest_api_source(
        {
            "client": {
                "base_url": f"{base_url}/v1.0/",
                "auth": {
                    "type": "oauth2_client_credentials",
                    "access_token_url": f"{base_url}/contoso/oauth2/v2.0/token",
                    "client_id": "bench",
                    "client_secret": "bench-secret",
                    "access_token_request_data": {
                        "grant_type": "client_credentials",
                        "scope": "https://graph.microsoft.com/.default",
                    },
                },
                "paginator": {"type": "json_link", "next_url_path": "['@odata.nextLink']"},
            },
            "resources": [
                {
                    "name": "users",
                    "selected": False,
                    "endpoint": {
                        "path": "users",
                        "params": {"$filter": f"assignedLicenses/any(x:x/skuId eq {COPILOT_SKU})", "$select": "id", "$top": 999},
                        "data_selector": "value",
                    },
                },
                {
                    "name": "interactions",
                    # Reads users in a thread pool, dlt's switch for concurrent requests.
                    "parallelized": True,
                    "endpoint": {
                        "path": "copilot/users/{resources.users.id}/interactionHistory/getAllEnterpriseInteractions",
                        "params": {
                            "$top": 100,
                            "$filter": f"createdDateTime gt {since} and createdDateTime lt {until}",
                        },
                        "data_selector": "value",
                    },
                    "include_from_parent": ["id"],
                },
            ],
        }
    )


def main() -> None:
    base_url, out, pipelines_dir, since, until = sys.argv[1:6]
    pipeline = dlt.pipeline(
        pipeline_name="copilot_bench",
        destination=dlt.destinations.filesystem(bucket_url=out),
        dataset_name="copilot",
        pipelines_dir=pipelines_dir,
    )
    pipeline.run(source(base_url, since, until), loader_file_format="parquet")
    counts = pipeline.last_trace.last_normalize_info.row_counts
    print(json.dumps({"rows": {table: rows for table, rows in counts.items() if not table.startswith("_dlt")}}))


if __name__ == "__main__":
    main()

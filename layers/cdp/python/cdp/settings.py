"""Deployment settings: the environment variables the stack sets and the handlers read, the data bucket's
prefixes, and where the configuration sits in the image. The CDK stack and the handlers both import this module,
so a name cannot drift between them.
"""

from __future__ import annotations

from datetime import date

# Environment variables, set by the stack (infra/) on the functions and read by cdp.adapters.lambda_env.
CONFIG_ENV = "CDP_CONFIG"  # path of cdp.yaml inside the function
WAREHOUSE_ENV = "CDP_WAREHOUSE"  # s3://<data bucket>/warehouse: the Iceberg tables' root
DATABASE_ENV = "CDP_DATABASE"  # the Glue database
EVENT_BUS_ENV = "CDP_EVENT_BUS"
DATA_BUCKET_ENV = "CDP_DATA_BUCKET"
LARGE_FILE_STATE_MACHINE_ENV = "CDP_LARGE_FILE_STATE_MACHINE"
PIPELINE_STATE_MACHINE_ENV = "CDP_PIPELINE_STATE_MACHINE"  # what the pipeline starter starts after ingestion
# Files ingested within this many seconds start one pipeline run (SQS batching windows go up to 300 s).
PIPELINE_DEBOUNCE_SECONDS = 300
SPLIT_BYTES_ENV = "CDP_SPLIT_BYTES"  # landed files from this size on are ingested in parts
CHANNEL_ENV = "CDP_CHANNEL"  # a channel sender's channel
SOURCE_ENV = "CDP_SOURCE"  # an integration batcher's source
SALT_SECRET_ENV = "CDP_SALT_SECRET"  # the secret salting erased subjects' hashes (erasure, ingestion)
# Endpoints override AWS's own in tests (moto's server); never set in a deployed stack.
S3_ENDPOINT_ENV = "CDP_S3_ENDPOINT"
GLUE_ENDPOINT_ENV = "CDP_GLUE_ENDPOINT"
AWS_ENDPOINT_ENV = "CDP_AWS_ENDPOINT"

# Where cdp.yaml is copied in the data functions' image (the Dockerfile receives it as a build argument).
IMAGE_CONFIG_PATH = "/var/task/cdp.yaml"
DEFAULT_SPLIT_BYTES = 2 << 30

# The data bucket's prefixes.
LANDING_PREFIX = "landing/"  # landing/<source>/...: files dropped by the brand, one folder per source
STAGING_PREFIX = "staging/"  # staging/<file_id>/...: validated parts of a large file, until they are committed
OUTBOX_PREFIX = "outbox/"  # outbox/<channel>/<date>/...: what each channel delivers, for its connector
WAREHOUSE_PREFIX = "warehouse"  # the Iceberg tables
ATHENA_RESULTS_PREFIX = "athena-results/"  # the analysts' workgroup's query results
MODELS_PREFIX = "models/"  # models/<name>/<version>.json and models/<name>/LATEST: trained model artefacts


def source_of_key(key: str) -> str | None:
    """``landing/<source>/...`` names the source; anything else is not a landed file."""
    parts = key.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] + "/" == LANDING_PREFIX else None


def integration_events_key(source: str, day: date, batch: str) -> str:
    """Where events that other systems publish for a source land, to be ingested like any file of it."""
    return f"{LANDING_PREFIX}{source}/events/{day:%Y/%m/%d}/{batch}.jsonl"


def staging_folder(file_id: str) -> str:
    return f"{STAGING_PREFIX}{file_id}/"


def outbox_key(channel: str, day: date, batch: str) -> str:
    return f"{OUTBOX_PREFIX}{channel}/{day:%Y-%m-%d}/{batch}.jsonl"


CONTACT_CARDS_FOLDER = "contacts"  # under a channel's outbox: its contact cards, a folder per profile


def contact_card_key(channel: str, profile_id: str, event_id: str) -> str:
    """Where the publish step leaves what a channel needs to reach a person for one event (``cdp.activation.cards``):
    under the channel's outbox, so that the outbox's retention and erasure reach it."""
    return f"{contact_cards_prefix(channel)}{profile_id}/{event_id}.json"


def contact_cards_prefix(channel: str) -> str:
    return f"{OUTBOX_PREFIX}{channel}/{CONTACT_CARDS_FOLDER}/"


def delivered_marks_prefix(channel: str) -> str:
    """One empty object per event a channel delivered, named by its id: how its sender drops duplicates."""
    return f"{OUTBOX_PREFIX}{channel}/delivered/"

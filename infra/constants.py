"""Infrastructure names the tests and the local tooling read back (stack names, output keys).

Runtime names (tables, env vars, routes) live in `letslive.constants`, which the CDK app,
the Lambdas, the worker and the tests all import.
"""

from typing import Final

from letslive.constants import Table

APP_NAME: Final = "LetsLive"

# Context keys (cdk.json / `-c key=value`).
CTX_LOCAL: Final = "local"
CTX_STAGE: Final = "stage"
CTX_LAMBDA_PYTHON: Final = "lambdaPython"
CTX_MEDIA_BASE_URL: Final = "mediaBaseUrl"
CTX_INGEST_URL: Final = "ingestUrl"
CTX_VOD_RETENTION_DAYS: Final = "vodRetentionDays"
# `true`: the synth fails on any unacknowledged cdk-nag (AwsSolutions) finding (`make synth`, CI, deploys).
CTX_NAG: Final = "nag"
# Optional custom domain of the CloudFront distribution and its ACM certificate (us-east-1).
CTX_DOMAIN_NAME: Final = "domainName"
CTX_CERTIFICATE_ARN: Final = "certificateArn"
# The ingest tier (AWS only): the most tasks it scales out to, the live broadcasts per task it
# scales on, and for RTMPS the host name streamers use and its ACM certificate (stack's region).
CTX_INGEST_MAX_TASKS: Final = "ingestMaxTasks"
CTX_INGEST_BROADCASTS_PER_TASK: Final = "ingestBroadcastsPerTask"
CTX_INGEST_DOMAIN_NAME: Final = "ingestDomainName"
CTX_INGEST_CERTIFICATE_ARN: Final = "ingestCertificateArn"
# Optional: an e-mail address subscribed to the alarm topic (AWS only, `stacks/monitoring_stack.py`).
CTX_ALARM_EMAIL: Final = "alarmEmail"

# Stack outputs.
OUTPUT_HTTP_API_ID: Final = "HttpApiId"
OUTPUT_HTTP_API_URL: Final = "HttpApiUrl"
# The broadcast sweeper, which the local platform invokes on a timer (the emulator runs no schedules).
OUTPUT_SWEEPER_FUNCTION: Final = "SweeperFunctionName"
OUTPUT_MEDIA_BUCKET: Final = "MediaBucketName"
# The origin-verify secret's ARN: the local edge reads it to send what CloudFront sends.
OUTPUT_ORIGIN_VERIFY_SECRET: Final = "OriginVerifySecretArn"  # noqa: S105 - a name, not a secret
OUTPUT_EVENT_BUS: Final = "EventBusName"
# The KMS key sealing restream keys: the local platform gives its ARN to the worker.
OUTPUT_RESTREAM_KEY: Final = "RestreamKeyArn"
OUTPUT_WEBSOCKET_API_ID: Final = "WebSocketApiId"
OUTPUT_WEBSOCKET_URL: Final = "WebSocketUrl"
OUTPUT_WEBSOCKET_STAGE: Final = "WebSocketStage"
OUTPUT_WEB_URL: Final = "WebUrl"
OUTPUT_DISTRIBUTION_ID: Final = "DistributionId"
# Where OBS points: `rtmp://<load balancer>/live`, and `rtmps://<ingest domain>:443/live` with TLS.
OUTPUT_INGEST_RTMP_URL: Final = "IngestRtmpUrl"
OUTPUT_INGEST_RTMPS_URL: Final = "IngestRtmpsUrl"
OUTPUT_INGEST_LOAD_BALANCER: Final = "IngestLoadBalancerDnsName"
# The monitoring stack: its CloudWatch dashboard and the SNS topic its alarms notify.
OUTPUT_DASHBOARD_NAME: Final = "DashboardName"
OUTPUT_DASHBOARD_URL: Final = "DashboardUrl"
OUTPUT_ALARM_TOPIC_ARN: Final = "AlarmTopicArn"

# The distribution's HLS cache policies (`infra/constructs/cdn.py`), which the local edge applies
# too (`localstack/edge_cache.py`): segments and thumbnails keep their own Cache-Control up to a
# year; playlists (live ones change every segment) at most a second. No minimum: an object's
# shorter Cache-Control (a live thumbnail's `max-age=15`) is honoured.
MEDIA_MIN_TTL_SECONDS: Final = 0
SEGMENT_TTL_SECONDS: Final = 365 * 24 * 3600
PLAYLIST_TTL_SECONDS: Final = 1


def stack_name(stage: str, unit: str) -> str:
    return f"{APP_NAME}-{stage}-{unit}"


def table_output(table: Table) -> str:
    """Output key carrying a table's physical name, e.g. `StreamsTableName`."""
    return f"{table.value.capitalize()}TableName"

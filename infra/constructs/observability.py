"""What operators watch in AWS: one CloudWatch dashboard, and alarms that notify one SNS topic.

The ingest worker's metrics (EMF lines on its stdout) and the Lambdas' business metrics (EMF from
Powertools) are custom metrics in `POWERTOOLS_NAMESPACE`, each with a `service` and a `stage`
dimension; everything else is what AWS publishes (API Gateway, Lambda, DynamoDB, SQS, ECS).
"""

from collections.abc import Mapping
from typing import Final

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import APP_NAME
from letslive.constants import (
    INGEST_METRIC_DIMENSIONS,
    INGEST_METRIC_SERVICE,
    METRIC_STAGE_DIMENSION,
    POWERTOOLS_NAMESPACE,
    ChatMetric,
    IngestMetric,
    Service,
    Table,
)

# A 5xx share of the HTTP API's requests above this (in %) over one period is an incident.
HTTP_5XX_RATE_PERCENT: Final = 5.0
HTTP_5XX_RATE_EXPRESSION: Final = "100 * server_errors / requests"
# The worker's transcode speed (`SpeedMeter`) is exactly 1.0 while a broadcast keeps up with its
# input; below it, the ladder is losing ground.
TRANSCODE_SPEED_FLOOR: Final = 1.0
# The periods alarms evaluate: the ingest tier's in minutes (viewers notice at once), the
# others over five (SQS and API Gateway metrics are coarse at low traffic).
INGEST_ALARM_PERIOD: Final = Duration.minutes(1)
ALARM_PERIOD: Final = Duration.minutes(5)
GRAPH_PERIOD: Final = Duration.minutes(1)
# The DynamoDB operations the repositories issue (PynamoDB get/save/update/delete/query,
# transactions and batches), whose throttled requests the dashboard sums per table.
TABLE_OPERATIONS: Final = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
    dynamodb.Operation.BATCH_GET_ITEM,
    dynamodb.Operation.BATCH_WRITE_ITEM,
)
FULL_WIDTH: Final = 24
HALF_WIDTH: Final = 12


def throttled_requests(table: Table, resource: dynamodb.ITable) -> cloudwatch.MathExpression:
    """The table's throttled requests summed over `TABLE_OPERATIONS`. Not the table's own
    `metric_throttled_requests_for_operations`: its metric ids are the operations' names, which
    collide when several tables share a graph."""
    metrics = {
        f"{table.value}_{operation.value.lower()}": resource.metric(
            "ThrottledRequests",
            dimensions_map={"TableName": resource.table_name, "Operation": operation.value},
            statistic=cloudwatch.Stats.SUM,
            period=GRAPH_PERIOD,
        )
        for operation in TABLE_OPERATIONS
    }
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({metric_id}, 0)" for metric_id in metrics),
        using_metrics=metrics,
        period=GRAPH_PERIOD,
        label=table.value,
    )


def dashboard_url(dashboard: cloudwatch.Dashboard) -> str:
    region = Stack.of(dashboard).region
    return (
        f"https://console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{dashboard.dashboard_name}"
    )


class ObservabilityConstruct(Construct):
    """The alarm topic, the dashboard and the alarms over the resources it is handed.

    `functions` and `dead_letter_queues` are keyed by a short readable name (used in labels and
    alarm names); every function gets an errors alarm, every dead-letter queue a backlog alarm.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        http_api: apigwv2.IHttpApi,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        tables: Mapping[Table, dynamodb.ITable],
        ingest_service: ecs.FargateService | None = None,
        broadcasts_per_task_target: float | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = f"letslive-{config.stage}"
        self.topic = self._alarm_topic(config)
        action = actions.SnsAction(self.topic)

        ingest_dimensions = dict(zip(INGEST_METRIC_DIMENSIONS, (INGEST_METRIC_SERVICE, config.stage), strict=True))

        def ingest(
            metric: IngestMetric, statistic: str, label: str, period: Duration = GRAPH_PERIOD
        ) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=POWERTOOLS_NAMESPACE,
                metric_name=metric.value,
                dimensions_map=ingest_dimensions,
                statistic=statistic,
                period=period,
                label=label,
            )

        def chat(metric: ChatMetric, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=POWERTOOLS_NAMESPACE,
                metric_name=metric.value,
                dimensions_map={"service": Service.CHAT.value, METRIC_STAGE_DIMENSION: config.stage},
                statistic=cloudwatch.Stats.SUM,
                period=GRAPH_PERIOD,
                label=label,
            )

        # --- alarms ---------------------------------------------------------------------------
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        def alarm(
            name: str,
            metric: cloudwatch.IMetric,
            *,
            threshold: float,
            comparison: cloudwatch.ComparisonOperator,
            description: str,
        ) -> None:
            created = cloudwatch.Alarm(
                self,
                f"{''.join(part.capitalize() for part in name.split('-'))}Alarm",
                alarm_name=f"{self._prefix}-{name}",
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                comparison_operator=comparison,
                evaluation_periods=1,
                # No traffic, no broadcast, no message: nothing is wrong.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            self.alarms[name] = created

        server_error_rate = cloudwatch.MathExpression(
            expression=HTTP_5XX_RATE_EXPRESSION,
            using_metrics={
                "server_errors": http_api.metric_server_error(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                "requests": http_api.metric_count(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            },
            period=ALARM_PERIOD,
            label="5xx (% of requests)",
        )
        alarm(
            "http-5xx-rate",
            server_error_rate,
            threshold=HTTP_5XX_RATE_PERCENT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=f"More than {HTTP_5XX_RATE_PERCENT:g}% of the HTTP API's requests answered 5xx",
        )
        alarm(
            "transcode-speed",
            ingest(IngestMetric.TRANSCODE_SPEED, cloudwatch.Stats.AVERAGE, "transcode speed", INGEST_ALARM_PERIOD),
            threshold=TRANSCODE_SPEED_FLOOR,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="Broadcasts transcoded slower than real time for a minute: viewers stall",
        )
        alarm(
            "upload-failures",
            ingest(IngestMetric.UPLOAD_FAILURES, cloudwatch.Stats.SUM, "upload failures", INGEST_ALARM_PERIOD),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="Segments or playlists the ingest worker could not upload after its retries",
        )
        alarm(
            "segments-dropped",
            ingest(IngestMetric.SEGMENTS_DROPPED, cloudwatch.Stats.SUM, "segments dropped", INGEST_ALARM_PERIOD),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="Media lost (disk budget exhausted while S3 was down): VODs have gaps",
        )
        alarm(
            "loop-errors",
            ingest(IngestMetric.LOOP_ERRORS, cloudwatch.Stats.SUM, "loop errors", INGEST_ALARM_PERIOD),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="Unexpected exceptions in a broadcast's loops (logged with a traceback; the loop went on)",
        )
        for name, queue in dead_letter_queues.items():
            alarm(
                f"dlq-{name}",
                queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"Failed work parked in the {name} dead-letter queue: look at it, then redrive it",
            )
        for name, fn in functions.items():
            alarm(
                f"lambda-errors-{name}",
                fn.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"The {name} Lambda failed invocations (unhandled errors or timeouts)",
            )

        # --- dashboard ------------------------------------------------------------------------
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{APP_NAME}-{config.stage}",
            default_interval=Duration.hours(3),
        )
        per_task = ingest(IngestMetric.ACTIVE_BROADCASTS, cloudwatch.Stats.AVERAGE, "per task (avg)")
        live: list[cloudwatch.IMetric] = [per_task]
        if ingest_service is not None:
            # Every task reports its count every heartbeat, so the average over a minute is per
            # task; times the running tasks (Container Insights) it is every live broadcast.
            tasks = cloudwatch.Metric(
                namespace="ECS/ContainerInsights",
                metric_name="RunningTaskCount",
                dimensions_map={
                    "ClusterName": ingest_service.cluster.cluster_name,
                    "ServiceName": ingest_service.service_name,
                },
                statistic=cloudwatch.Stats.AVERAGE,
                period=GRAPH_PERIOD,
                label="ingest tasks",
            )
            live = [
                cloudwatch.MathExpression(
                    expression="per_task * tasks",
                    using_metrics={"per_task": per_task, "tasks": tasks},
                    period=GRAPH_PERIOD,
                    label="live broadcasts (all tasks)",
                ),
                per_task,
                tasks,
            ]
        target = (
            [cloudwatch.HorizontalAnnotation(value=broadcasts_per_task_target, label="scaling target per task")]
            if broadcasts_per_task_target is not None
            else None
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Live broadcasts", left=live, left_annotations=target, width=HALF_WIDTH),
            cloudwatch.GraphWidget(
                title="Transcode speed (1.0 = real time)",
                left=[
                    ingest(IngestMetric.TRANSCODE_SPEED, cloudwatch.Stats.MINIMUM, "min"),
                    ingest(IngestMetric.TRANSCODE_SPEED, cloudwatch.Stats.AVERAGE, "avg"),
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=TRANSCODE_SPEED_FLOOR, label="real time")],
                width=HALF_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Segment uploads",
                left=[
                    ingest(IngestMetric.SEGMENTS_UPLOADED, cloudwatch.Stats.SUM, "uploaded"),
                    ingest(IngestMetric.UPLOAD_FAILURES, cloudwatch.Stats.SUM, "failed"),
                    ingest(IngestMetric.SEGMENTS_DROPPED, cloudwatch.Stats.SUM, "dropped"),
                    ingest(IngestMetric.LOOP_ERRORS, cloudwatch.Stats.SUM, "loop errors"),
                ],
                right=[
                    ingest(IngestMetric.SEGMENT_UPLOAD_LATENCY, cloudwatch.Stats.p(50), "latency p50 (ms)"),
                    ingest(IngestMetric.SEGMENT_UPLOAD_LATENCY, cloudwatch.Stats.p(99), "latency p99 (ms)"),
                ],
                width=HALF_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="Ingest input bitrate and load",
                left=[
                    ingest(IngestMetric.INPUT_BITRATE, cloudwatch.Stats.AVERAGE, "input bitrate avg (kbit/s)"),
                    ingest(IngestMetric.EVENT_LOOP_LAG, cloudwatch.Stats.MAXIMUM, "event loop lag max (ms)"),
                ],
                right=(
                    [
                        ingest_service.metric_cpu_utilization(period=GRAPH_PERIOD, label="CPU %"),
                        ingest_service.metric_memory_utilization(period=GRAPH_PERIOD, label="memory %"),
                    ]
                    if ingest_service is not None
                    else None
                ),
                width=HALF_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Chat",
                left=[
                    chat(ChatMetric.MESSAGES_SENT, "messages sent"),
                    chat(ChatMetric.CONNECTIONS, "joins"),
                    chat(ChatMetric.REFUSED, "refused actions"),
                ],
                right=[
                    chat(ChatMetric.FANOUT_DELIVERED, "fan-out deliveries"),
                    chat(ChatMetric.FANOUT_GONE, "fan-out gone"),
                ],
                width=HALF_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="HTTP API requests and errors",
                left=[
                    http_api.metric_count(period=GRAPH_PERIOD, label="requests"),
                    http_api.metric_client_error(period=GRAPH_PERIOD, label="4xx"),
                    http_api.metric_server_error(period=GRAPH_PERIOD, label="5xx"),
                ],
                right=[server_error_rate],
                width=HALF_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="HTTP API latency (ms)",
                left=[
                    http_api.metric_latency(period=GRAPH_PERIOD, statistic=cloudwatch.Stats.p(50), label="p50"),
                    http_api.metric_latency(period=GRAPH_PERIOD, statistic=cloudwatch.Stats.p(99), label="p99"),
                    http_api.metric_integration_latency(
                        period=GRAPH_PERIOD, statistic=cloudwatch.Stats.p(99), label="integration p99"
                    ),
                ],
                width=HALF_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues (messages waiting)",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=GRAPH_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, queue in dead_letter_queues.items()
                ],
                width=HALF_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[fn.metric_errors(period=GRAPH_PERIOD, label=name) for name, fn in functions.items()],
                width=HALF_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration p99 (ms)",
                left=[
                    fn.metric_duration(period=GRAPH_PERIOD, statistic=cloudwatch.Stats.p(99), label=name)
                    for name, fn in functions.items()
                ],
                width=HALF_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DynamoDB throttle events",
                left=[
                    resource.metric(
                        f"{kind}ThrottleEvents",
                        period=GRAPH_PERIOD,
                        statistic=cloudwatch.Stats.SUM,
                        label=f"{table.value} {kind.lower()}s",
                    )
                    for table, resource in tables.items()
                    for kind in ("Read", "Write")
                ],
                width=HALF_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB throttled requests",
                left=[throttled_requests(table, resource) for table, resource in tables.items()],
                width=HALF_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=FULL_WIDTH, height=4)
        )

    def _alarm_topic(self, config: InfraConfig) -> sns.Topic:
        """Encrypted with a key of our own: CloudWatch cannot publish to a topic under the AWS
        managed SNS key, whose policy no one may change."""
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the {self._prefix} alarm topic",
            enable_key_rotation=True,
        )
        cloudwatch_alarms = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_alarms],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, `*` is this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"Let's Live {config.stage} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # The alarms of this account publish; the statement names them since the topic has a policy.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_alarms],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    "ArnLike": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        return topic

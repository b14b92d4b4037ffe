"""What operators watch in AWS: one CloudWatch dashboard, and alarms that notify one SNS topic.

The ingest worker's metrics (EMF lines on its stdout) and the Lambdas' business metrics (EMF from
Powertools) are custom metrics in `POWERTOOLS_NAMESPACE`, each with a `service` and a `stage`
dimension (`monitoring_metrics.CustomMetrics`); everything else is what AWS publishes (API Gateway,
Lambda, DynamoDB, SQS, ECS).
"""

from collections.abc import Mapping, Sequence
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
from infra.constructs.monitoring_metrics import GRAPH_PERIOD, CustomMetrics, running_tasks, throttled_requests
from letslive.constants import ChatMetric, IngestMetric, Table

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
FULL_WIDTH: Final = 24
HALF_WIDTH: Final = 12


def server_error_rate(http_api: apigwv2.IHttpApi) -> cloudwatch.MathExpression:
    """The share (in %) of the HTTP API's requests answered 5xx over an alarm period."""
    return cloudwatch.MathExpression(
        expression=HTTP_5XX_RATE_EXPRESSION,
        using_metrics={
            "server_errors": http_api.metric_server_error(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            "requests": http_api.metric_count(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
        },
        period=ALARM_PERIOD,
        label="5xx (% of requests)",
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
        self._metrics = CustomMetrics(config.stage)
        self.topic = self._build_alarm_topic(config)
        self._action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._build_api_alarms(http_api)
        self._build_ingest_alarms()
        self._build_queue_alarms(dead_letter_queues)
        self._build_function_alarms(functions)
        # After the alarms: the dashboard shows their status.
        self.dashboard = self._build_dashboard(
            f"{APP_NAME}-{config.stage}",
            http_api=http_api,
            functions=functions,
            dead_letter_queues=dead_letter_queues,
            tables=tables,
            ingest_service=ingest_service,
            broadcasts_per_task_target=broadcasts_per_task_target,
        )

    # --- the topic ----------------------------------------------------------------------------

    def _build_alarm_topic(self, config: InfraConfig) -> sns.Topic:
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

    # --- the alarms ---------------------------------------------------------------------------

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
    ) -> None:
        alarm = cloudwatch.Alarm(
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
        alarm.add_alarm_action(self._action)
        self.alarms[name] = alarm

    def _build_api_alarms(self, http_api: apigwv2.IHttpApi) -> None:
        self._alarm(
            "http-5xx-rate",
            server_error_rate(http_api),
            threshold=HTTP_5XX_RATE_PERCENT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=f"More than {HTTP_5XX_RATE_PERCENT:g}% of the HTTP API's requests answered 5xx",
        )

    def _build_ingest_alarms(self) -> None:
        ingest = self._metrics.ingest
        self._alarm(
            "transcode-speed",
            ingest(IngestMetric.TRANSCODE_SPEED, cloudwatch.Stats.AVERAGE, "transcode speed", INGEST_ALARM_PERIOD),
            threshold=TRANSCODE_SPEED_FLOOR,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="Broadcasts transcoded slower than real time for a minute: viewers stall",
        )
        self._alarm(
            "upload-failures",
            ingest(IngestMetric.UPLOAD_FAILURES, cloudwatch.Stats.SUM, "upload failures", INGEST_ALARM_PERIOD),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="Segments or playlists the ingest worker could not upload after its retries",
        )
        self._alarm(
            "segments-dropped",
            ingest(IngestMetric.SEGMENTS_DROPPED, cloudwatch.Stats.SUM, "segments dropped", INGEST_ALARM_PERIOD),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="Media lost (disk budget exhausted while S3 was down): VODs have gaps",
        )
        self._alarm(
            "loop-errors",
            ingest(IngestMetric.LOOP_ERRORS, cloudwatch.Stats.SUM, "loop errors", INGEST_ALARM_PERIOD),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="Unexpected exceptions in a broadcast's loops (logged with a traceback; the loop went on)",
        )

    def _build_queue_alarms(self, dead_letter_queues: Mapping[str, sqs.IQueue]) -> None:
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"dlq-{name}",
                queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"Failed work parked in the {name} dead-letter queue: look at it, then redrive it",
            )

    def _build_function_alarms(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        for name, fn in functions.items():
            self._alarm(
                f"lambda-errors-{name}",
                fn.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"The {name} Lambda failed invocations (unhandled errors or timeouts)",
            )

    # --- the dashboard ------------------------------------------------------------------------

    def _build_dashboard(
        self,
        name: str,
        *,
        http_api: apigwv2.IHttpApi,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        tables: Mapping[Table, dynamodb.ITable],
        ingest_service: ecs.FargateService | None,
        broadcasts_per_task_target: float | None,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name, default_interval=Duration.hours(3))
        live, transcode, uploads, ingest_load = self._ingest_widgets(ingest_service, broadcasts_per_task_target)
        requests, latency = self._api_widgets(http_api)
        # Two half-width graphs a row, the alarms' status across the last.
        rows: list[Sequence[cloudwatch.IWidget]] = [
            (live, transcode),
            (uploads, ingest_load),
            (self._chat_widget(), requests),
            (latency, self._queue_widget(dead_letter_queues)),
            self._function_widgets(functions),
            self._table_widgets(tables),
            (self._alarm_status_widget(),),
        ]
        for row in rows:
            dashboard.add_widgets(*row)
        return dashboard

    def _ingest_widgets(
        self, service: ecs.FargateService | None, broadcasts_per_task_target: float | None
    ) -> tuple[cloudwatch.GraphWidget, cloudwatch.GraphWidget, cloudwatch.GraphWidget, cloudwatch.GraphWidget]:
        """Live broadcasts, transcode speed, segment uploads, and the worker's input and load."""
        ingest = self._metrics.ingest
        per_task = ingest(IngestMetric.ACTIVE_BROADCASTS, cloudwatch.Stats.AVERAGE, "per task (avg)")
        live: list[cloudwatch.IMetric] = [per_task]
        if service is not None:
            # Every task reports its count every heartbeat, so the average over a minute is per
            # task; times the running tasks it is every live broadcast.
            tasks = running_tasks(service)
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
        return (
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
                        service.metric_cpu_utilization(period=GRAPH_PERIOD, label="CPU %"),
                        service.metric_memory_utilization(period=GRAPH_PERIOD, label="memory %"),
                    ]
                    if service is not None
                    else None
                ),
                width=HALF_WIDTH,
            ),
        )

    def _chat_widget(self) -> cloudwatch.GraphWidget:
        chat = self._metrics.chat
        return cloudwatch.GraphWidget(
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
        )

    def _api_widgets(self, http_api: apigwv2.IHttpApi) -> tuple[cloudwatch.GraphWidget, cloudwatch.GraphWidget]:
        """Requests and errors (with the alarm's 5xx rate), then latency."""
        return (
            cloudwatch.GraphWidget(
                title="HTTP API requests and errors",
                left=[
                    http_api.metric_count(period=GRAPH_PERIOD, label="requests"),
                    http_api.metric_client_error(period=GRAPH_PERIOD, label="4xx"),
                    http_api.metric_server_error(period=GRAPH_PERIOD, label="5xx"),
                ],
                right=[server_error_rate(http_api)],
                width=HALF_WIDTH,
            ),
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
        )

    def _queue_widget(self, dead_letter_queues: Mapping[str, sqs.IQueue]) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title="Dead-letter queues (messages waiting)",
            left=[
                queue.metric_approximate_number_of_messages_visible(
                    period=GRAPH_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=name
                )
                for name, queue in dead_letter_queues.items()
            ],
            width=HALF_WIDTH,
        )

    def _function_widgets(
        self, functions: Mapping[str, lambda_.IFunction]
    ) -> tuple[cloudwatch.GraphWidget, cloudwatch.GraphWidget]:
        return (
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

    def _table_widgets(
        self, tables: Mapping[Table, dynamodb.ITable]
    ) -> tuple[cloudwatch.GraphWidget, cloudwatch.GraphWidget]:
        return (
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

    def _alarm_status_widget(self) -> cloudwatch.AlarmStatusWidget:
        return cloudwatch.AlarmStatusWidget(
            title="Alarms", alarms=list(self.alarms.values()), width=FULL_WIDTH, height=4
        )

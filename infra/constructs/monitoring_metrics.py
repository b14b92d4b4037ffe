"""The metrics the dashboard and the alarms read that no AWS construct hands out: the platform's
custom metrics (`POWERTOOLS_NAMESPACE`), the ingest service's task count and the tables'
throttled requests."""

from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs

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


class CustomMetrics:
    """One stage's custom metrics, read with the dimensions their publishers write: a metric read
    with other dimensions is a different (empty) metric."""

    def __init__(self, stage: str) -> None:
        self._ingest_dimensions = dict(zip(INGEST_METRIC_DIMENSIONS, (INGEST_METRIC_SERVICE, stage), strict=True))
        self._chat_dimensions = {"service": Service.CHAT.value, METRIC_STAGE_DIMENSION: stage}

    def ingest(
        self, metric: IngestMetric, statistic: str, label: str, period: Duration = GRAPH_PERIOD
    ) -> cloudwatch.Metric:
        return _custom(metric.value, self._ingest_dimensions, statistic=statistic, label=label, period=period)

    def chat(self, metric: ChatMetric, label: str) -> cloudwatch.Metric:
        # Every chat metric is a count.
        return _custom(metric.value, self._chat_dimensions, statistic=cloudwatch.Stats.SUM, label=label)


def _custom(
    name: str, dimensions: Mapping[str, str], *, statistic: str, label: str, period: Duration = GRAPH_PERIOD
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=POWERTOOLS_NAMESPACE,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=period,
        label=label,
    )


def running_tasks(service: ecs.FargateService) -> cloudwatch.Metric:
    """The service's running tasks, from Container Insights (ECS itself publishes no such metric)."""
    return cloudwatch.Metric(
        namespace="ECS/ContainerInsights",
        metric_name="RunningTaskCount",
        dimensions_map={"ClusterName": service.cluster.cluster_name, "ServiceName": service.service_name},
        statistic=cloudwatch.Stats.AVERAGE,
        period=GRAPH_PERIOD,
        label="ingest tasks",
    )


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

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import OUTPUT_ALARM_TOPIC_ARN, OUTPUT_DASHBOARD_NAME, OUTPUT_DASHBOARD_URL
from infra.constructs.observability import ObservabilityConstruct, dashboard_url
from letslive.constants import Table


class MonitoringStack(Stack):
    """AWS only: the dashboard and the alarms over the other stacks' resources, which it is handed
    (their names reach it as cross-stack references), and the topic the alarms notify."""

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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.observability = ObservabilityConstruct(
            self,
            "Observability",
            config=config,
            http_api=http_api,
            functions=functions,
            dead_letter_queues=dead_letter_queues,
            tables=tables,
            ingest_service=ingest_service,
            broadcasts_per_task_target=config.ingest_broadcasts_per_task if ingest_service is not None else None,
        )
        dashboard = self.observability.dashboard
        CfnOutput(self, OUTPUT_DASHBOARD_NAME, key=OUTPUT_DASHBOARD_NAME, value=dashboard.dashboard_name)
        CfnOutput(self, OUTPUT_DASHBOARD_URL, key=OUTPUT_DASHBOARD_URL, value=dashboard_url(dashboard))
        topic_arn = self.observability.topic.topic_arn
        CfnOutput(self, OUTPUT_ALARM_TOPIC_ARN, key=OUTPUT_ALARM_TOPIC_ARN, value=topic_arn)

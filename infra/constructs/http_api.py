from collections.abc import Mapping

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import FUNCTIONS_SOURCE, LAYER_SOURCE, FunctionBundler, LayerBundler, bundled_code
from infra.config import InfraConfig
from infra.constants import OUTPUT_HTTP_API_ID, OUTPUT_HTTP_API_URL
from letslive.constants import (
    ENV_INGEST_URL,
    ENV_MEDIA_BASE_URL,
    ENV_STAGE,
    ENV_VOD_RETENTION_DAYS,
    POWERTOOLS_NAMESPACE,
    SERVICE_TABLES,
    Service,
    Table,
    table_env_var,
)


class HttpServicesConstruct(Construct):
    """The HTTP API and one Lambda per HTTP service, all sharing the `letslive` layer.

    Each service owns the routes under `/<service>/` and may touch only its own tables.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: Mapping[Table, dynamodb.ITable],
    ) -> None:
        super().__init__(scope, construct_id)
        self.runtime = runtime = lambda_.Runtime(f"python{config.lambda_python}", lambda_.RuntimeFamily.PYTHON)
        self.layer = lambda_.LayerVersion(
            self,
            "DomainLayer",
            code=bundled_code(LAYER_SOURCE, LayerBundler(config.lambda_python)),
            compatible_runtimes=[runtime],
            description="letslive domain package and the Lambda entry points' dependencies",
        )
        self.api = apigwv2.HttpApi(self, "HttpApi", description="Let's Live HTTP services")
        self.functions: dict[Service, lambda_.Function] = {}
        for service in Service:
            fn = self._service_function(service, runtime, config)
            for table in SERVICE_TABLES[service]:
                tables[table].grant_read_write_data(fn)
                fn.add_environment(table_env_var(table), tables[table].table_name)
            integration = integrations.HttpLambdaIntegration(f"{service.value.capitalize()}Integration", fn)
            # `/<service>` itself (e.g. `GET /vods?channel=`) and everything below it.
            for path in (f"/{service.value}", f"/{service.value}/{{proxy+}}"):
                self.api.add_routes(path=path, methods=[apigwv2.HttpMethod.ANY], integration=integration)
            if service in (Service.STREAMS, Service.VODS):
                fn.add_environment(ENV_VOD_RETENTION_DAYS, str(config.vod_retention_days))
                for name, value in ((ENV_MEDIA_BASE_URL, config.media_base_url), (ENV_INGEST_URL, config.ingest_url)):
                    if value:
                        fn.add_environment(name, value)
            self.functions[service] = fn
        CfnOutput(self, OUTPUT_HTTP_API_ID, key=OUTPUT_HTTP_API_ID, value=self.api.api_id)
        CfnOutput(self, OUTPUT_HTTP_API_URL, key=OUTPUT_HTTP_API_URL, value=self.api.api_endpoint)

    def _service_function(self, service: Service, runtime: lambda_.Runtime, config: InfraConfig) -> lambda_.Function:
        name = service.value.capitalize()
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        return lambda_.Function(
            self,
            f"{name}Function",
            runtime=runtime,
            architecture=lambda_.Architecture.X86_64,  # matches the platform the layer's wheels are for
            handler=f"functions.{service.value}.handler.handler",
            code=bundled_code(FUNCTIONS_SOURCE, FunctionBundler(service.value)),
            layers=[self.layer],
            # More memory is more CPU: cold starts are CPU-bound imports.
            memory_size=1024,
            timeout=Duration.seconds(10),
            tracing=lambda_.Tracing.DISABLED if config.local else lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment={
                ENV_STAGE: config.stage,
                "POWERTOOLS_SERVICE_NAME": service.value,
                "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_NAMESPACE,
                # No X-Ray daemon next to the emulator.
                "POWERTOOLS_TRACE_DISABLED": str(config.local).lower(),
            },
        )

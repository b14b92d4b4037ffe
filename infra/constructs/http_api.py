from collections.abc import Mapping
from typing import Final

from aws_cdk import CfnOutput
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundling import LAYER_SOURCE, LayerBundler, bundled_code
from infra.config import InfraConfig
from infra.constants import OUTPUT_HTTP_API_ID, OUTPUT_HTTP_API_URL
from infra.constructs.access_logs import HTTP_FIELDS, access_logs
from infra.constructs.functions import grant_tables, invocation_target, python_function
from infra.nag import acknowledge
from letslive.constants import (
    ENV_INGEST_URL,
    ENV_MEDIA_BASE_URL,
    ENV_PREFIX,
    ENV_VOD_RETENTION_DAYS,
    SERVICE_EXTRA_PREFIXES,
    Service,
    Table,
)

# API Gateway throttles (token buckets: steady requests per second, burst), for all callers of
# the stage together; the per-client limits are the auth service's (`LETSLIVE_LOGIN_*`,
# `LETSLIVE_SIGNUP_*`). Sign-up and login each cost an argon2id hash (64 MiB, ~0.1 s), so their
# routes get far less than the stage: a flood is refused at the gateway before any Lambda runs.
STAGE_THROTTLE = apigwv2.ThrottleSettings(rate_limit=1000, burst_limit=2000)
ROUTE_THROTTLES: Final = {
    "POST /auth/signup": apigwv2.ThrottleSettings(rate_limit=5, burst_limit=20),
    "POST /auth/login": apigwv2.ThrottleSettings(rate_limit=50, burst_limit=100),
}
# Locally every test and developer signs up from 127.0.0.1: the e2e suites alone make dozens of
# accounts an hour. The limit itself is replayed by lowering it (`tests/e2e/test_security_accounts.py`).
LOCAL_SIGNUPS_PER_ADDRESS: Final = 100_000
ENV_SIGNUP_MAX_PER_ADDRESS: Final = f"{ENV_PREFIX}SIGNUP_MAX_PER_ADDRESS"  # `Settings.signup_max_per_address`


class HttpServicesConstruct(Construct):
    """The HTTP API and one Lambda per HTTP service, all sharing the `letslive` layer.

    Each service owns the routes under `/<service>/` and may touch only its own tables (and
    read the few it is allowed to read).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: Mapping[Table, dynamodb.ITable],
        ingest_url: str | None = None,
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
        self.api = apigwv2.HttpApi(self, "HttpApi", description="Let's Live HTTP services", create_default_stage=False)
        # The default stage HttpApi would make, under the same id (so the same logical id), plus
        # access logs, which HttpApi's own default stage cannot have.
        self.stage = apigwv2.HttpStage(
            self.api,
            "DefaultStage",
            http_api=self.api,
            auto_deploy=True,
            access_log_settings=access_logs(self, "HttpApiAccessLogs", HTTP_FIELDS),
            throttle=STAGE_THROTTLE,
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "Each service is one proxy route whose paths mix anonymous access (sign-up, login, public "
            "channel and VOD reads) with signed-in access, which a gateway authorizer cannot tell apart; "
            "the service verifies our own ES256 access tokens (JWKS from the deploy) in the Lambda.",
        )
        self.functions: dict[Service, lambda_.Function] = {}
        for service in Service:
            fn = python_function(
                self,
                service.value.capitalize(),
                config=config,
                runtime=runtime,
                layer=self.layer,
                service=service,
                handler=f"functions.{service.value}.handler.handler",
                snap_start=True,
            )
            grant_tables(fn, service, tables)
            # SnapStart restores only published versions: the API invokes the `live` alias.
            integration = integrations.HttpLambdaIntegration(
                f"{service.value.capitalize()}Integration", invocation_target(fn)
            )
            # `/<service>` itself (e.g. `GET /vods?channel=`) and everything below it, and so for
            # the service's other prefixes (`/clips`).
            for prefix in (service.value, *SERVICE_EXTRA_PREFIXES.get(service, ())):
                for path in (f"/{prefix}", f"/{prefix}/{{proxy+}}"):
                    self.api.add_routes(path=path, methods=[apigwv2.HttpMethod.ANY], integration=integration)
            if service is Service.AUTH:
                self._throttled_routes(integration)
                if config.local:
                    fn.add_environment(ENV_SIGNUP_MAX_PER_ADDRESS, str(LOCAL_SIGNUPS_PER_ADDRESS))
            if service in (Service.STREAMS, Service.VODS):
                fn.add_environment(ENV_VOD_RETENTION_DAYS, str(config.vod_retention_days))
                for name, value in ((ENV_MEDIA_BASE_URL, config.media_base_url), (ENV_INGEST_URL, ingest_url)):
                    if value:
                        fn.add_environment(name, value)
            self.functions[service] = fn
        CfnOutput(self, OUTPUT_HTTP_API_ID, key=OUTPUT_HTTP_API_ID, value=self.api.api_id)

    def _throttled_routes(self, integration: integrations.HttpLambdaIntegration) -> None:
        """Routes of their own for the costly auth calls (more specific than `ANY /auth/{proxy+}`,
        so they take precedence), each with its own throttle on the stage."""
        stage = self.stage.node.default_child
        if not isinstance(stage, apigwv2.CfnStage):
            raise TypeError("HttpStage is expected to wrap a CfnStage")
        settings: dict[str, dict[str, float]] = {}
        for route_key, throttle in ROUTE_THROTTLES.items():
            method, path = route_key.split(" ", 1)
            (route,) = self.api.add_routes(path=path, methods=[apigwv2.HttpMethod(method)], integration=integration)
            # A stage's route settings name routes that must already exist.
            stage.node.add_dependency(route)
            settings[route_key] = {
                "ThrottlingRateLimit": throttle.rate_limit or 0,
                "ThrottlingBurstLimit": throttle.burst_limit or 0,
            }
        stage.add_property_override("RouteSettings", settings)
        CfnOutput(self, OUTPUT_HTTP_API_URL, key=OUTPUT_HTTP_API_URL, value=self.api.api_endpoint)

"""The one way a Python entry point becomes a Lambda: shared layer, log group, tracing, env."""

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import FUNCTIONS_SOURCE, FunctionBundler, bundled_code
from infra.config import InfraConfig
from letslive.constants import (
    ENV_STAGE,
    POWERTOOLS_NAMESPACE,
    SERVICE_READ_TABLES,
    SERVICE_TABLES,
    Service,
    Table,
    table_env_var,
)


def python_function(
    scope: Construct,
    name: str,
    *,
    config: InfraConfig,
    runtime: lambda_.Runtime,
    layer: lambda_.ILayerVersion,
    service: Service,
    handler: str,
    timeout_seconds: int = 10,
    description: str | None = None,
) -> lambda_.Function:
    """`<name>Function` (and its `<name>Logs`) in `scope`, running `handler` from the `service`
    package of `functions/` (plus `functions.common`) on the shared `letslive` layer."""
    log_group = logs.LogGroup(
        scope,
        f"{name}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return lambda_.Function(
        scope,
        f"{name}Function",
        runtime=runtime,
        architecture=lambda_.Architecture.X86_64,  # matches the platform the layer's wheels are for
        handler=handler,
        code=bundled_code(FUNCTIONS_SOURCE, FunctionBundler(service.value)),
        layers=[layer],
        # More memory is more CPU: cold starts are CPU-bound imports.
        memory_size=1024,
        timeout=Duration.seconds(timeout_seconds),
        tracing=lambda_.Tracing.DISABLED if config.local else lambda_.Tracing.ACTIVE,
        log_group=log_group,
        description=description,
        environment={
            ENV_STAGE: config.stage,
            "POWERTOOLS_SERVICE_NAME": service.value,
            "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_NAMESPACE,
            # No X-Ray daemon next to the emulator.
            "POWERTOOLS_TRACE_DISABLED": str(config.local).lower(),
        },
    )


def grant_tables(fn: lambda_.Function, service: Service, tables: Mapping[Table, dynamodb.ITable]) -> None:
    """Read/write on the service's own tables and read-only on those it may only read, each
    named in the function's environment (where `settings.table_name` finds it)."""
    for table in SERVICE_TABLES[service]:
        tables[table].grant_read_write_data(fn)
        fn.add_environment(table_env_var(table), tables[table].table_name)
    for table in SERVICE_READ_TABLES.get(service, ()):
        tables[table].grant_read_data(fn)
        fn.add_environment(table_env_var(table), tables[table].table_name)

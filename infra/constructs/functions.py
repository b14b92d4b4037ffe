"""The one way a Python entry point becomes a Lambda: shared layer, log group, tracing, env.

SnapStart (`snap_start=True`, the HTTP services): in the AWS shape on Python 3.12+, the function
snapshots each published version after its init and restores new sandboxes from it; the version
is the `live` alias's, and callers invoke the alias (`invocation_target`), never `$LATEST`, which
has no snapshot. The hooks that run around the snapshot are `functions.common.snapstart`'s. The
local shape has neither: the emulator runs functions on its own Python (3.11 here, which
SnapStart does not support), and the e2e tests change a function's configuration in place, which
a published version would not see.
"""

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import FUNCTIONS_SOURCE, FunctionBundler, bundled_code
from infra.config import InfraConfig
from infra.nag import acknowledge
from letslive.constants import (
    ENV_STAGE,
    POWERTOOLS_NAMESPACE,
    SERVICE_READ_TABLES,
    SERVICE_TABLES,
    TABLE_GSI,
    Service,
    Table,
    table_env_var,
)

# What CDK's `grant_read_data` / `grant_read_write_data` allow, minus the stream actions (the
# tables have no streams); granted on the table and its one index by name, not on `index/*`.
TABLE_READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
TABLE_WRITE_ACTIONS = ("dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
# The alias that API Gateway invokes on a SnapStart function (its current published version).
LIVE_ALIAS = "live"
LIVE_ALIAS_ID = "LiveAlias"
SNAP_START_MIN_PYTHON = (3, 12)


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
    snap_start: bool = False,
    extra_layers: Sequence[lambda_.ILayerVersion] = (),
) -> lambda_.Function:
    """`<name>Function` (and its `<name>Logs`) in `scope`, running `handler` from the `service`
    package of `functions/` (plus `functions.common`) on the shared `letslive` layer.

    `snap_start`: where the shape allows it (`snap_start_enabled`), SnapStart on published
    versions and a `live` alias on the current one; `invocation_target` is what to invoke."""
    log_group = function_log_group(scope, f"{name}Logs")
    snapshots = snap_start and snap_start_enabled(config)
    fn = lambda_.Function(
        scope,
        f"{name}Function",
        role=execution_role(scope, f"{name}Role", config=config, log_group=log_group),
        runtime=snap_start_runtime(runtime) if snapshots else runtime,
        architecture=lambda_.Architecture.X86_64,  # matches the platform the layer's wheels are for
        handler=handler,
        code=bundled_code(FUNCTIONS_SOURCE, FunctionBundler(service.value)),
        layers=[layer, *extra_layers],
        # More memory is more CPU: cold starts are CPU-bound imports.
        memory_size=1024,
        timeout=Duration.seconds(timeout_seconds),
        tracing=function_tracing(config),
        log_group=log_group,
        description=description,
        environment=powertools_environment(config, service.value),
        snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snapshots else None,
    )
    acknowledge_pinned_runtime(fn, config)
    if snapshots:
        # `current_version` is a new version whenever the code or configuration changes (its
        # logical id hashes them), so each deploy snapshots the new code and moves the alias.
        lambda_.Alias(fn, LIVE_ALIAS_ID, alias_name=LIVE_ALIAS, version=fn.current_version)
    return fn


def snap_start_enabled(config: InfraConfig) -> bool:
    """SnapStart in this shape: AWS only (see the module's docstring), on Python 3.12 or later."""
    major, minor = (int(part) for part in config.lambda_python.split("."))
    return not config.local and (major, minor) >= SNAP_START_MIN_PYTHON


def snap_start_runtime(runtime: lambda_.Runtime) -> lambda_.Runtime:
    """`runtime` as CDK must see it to allow SnapStart: a runtime made from its name (the pinned
    `lambdaPython`, not one of CDK's constants) does not say it supports it."""
    if runtime.supports_snap_start:
        return runtime
    return lambda_.Runtime(runtime.name, runtime.family, supports_snap_start=True)


def invocation_target(fn: lambda_.Function) -> lambda_.IFunction:
    """What callers invoke: the `live` alias of a SnapStart function, else the function itself."""
    alias = fn.node.try_find_child(LIVE_ALIAS_ID)
    return alias if isinstance(alias, lambda_.Alias) else fn


def function_log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
    return logs.LogGroup(
        scope, construct_id, retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
    )


def execution_role(scope: Construct, construct_id: str, *, config: InfraConfig, log_group: logs.ILogGroup) -> iam.Role:
    """A Lambda execution role that may write to its function's own log group only, where the
    AWS managed `AWSLambdaBasicExecutionRole` (CDK's default) may write to every group in the account."""
    role = iam.Role(scope, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group.grant_write(role)
    if function_tracing(config) is lambda_.Tracing.ACTIVE:
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which X-Ray only "
            "grants on all resources; every other statement of this role names its resources.",
        )
    return role


def acknowledge_pinned_runtime(fn: lambda_.Function, config: InfraConfig) -> None:
    acknowledge(
        fn,
        "AwsSolutions-L1",
        f"The runtime is pinned to Python {config.lambda_python} (context lambdaPython): the shared layer's "
        "compiled wheels are fetched for exactly that version, so a newer runtime is a deliberate change "
        "of that key and a redeploy, not an automatic upgrade.",
    )


def function_tracing(config: InfraConfig) -> lambda_.Tracing:
    return lambda_.Tracing.DISABLED if config.local else lambda_.Tracing.ACTIVE


def powertools_environment(config: InfraConfig, service: str) -> dict[str, str]:
    """What every Lambda's Powertools (`functions.common.observability`) reads."""
    return {
        ENV_STAGE: config.stage,  # also the `stage` dimension of its metrics
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_NAMESPACE,
        # No X-Ray daemon next to the emulator.
        "POWERTOOLS_TRACE_DISABLED": str(config.local).lower(),
    }


def grant_tables(
    fn: lambda_.Function, service: Service, tables: Mapping[Table, dynamodb.ITable], *, reads: bool = True
) -> None:
    """Read/write on the service's own tables and, with `reads` (the service's own functions,
    not another's borrowing its tables), read-only on those it may only read; each table named
    in the function's environment (where `settings.table_name` finds it)."""
    grants: list[tuple[Table, tuple[str, ...]]] = [
        (table, TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS) for table in SERVICE_TABLES[service]
    ]
    if reads:
        grants += [(table, TABLE_READ_ACTIONS) for table in SERVICE_READ_TABLES.get(service, ())]
    for table, actions in grants:
        arn = tables[table].table_arn
        iam.Grant.add_to_principal(grantee=fn, actions=list(actions), resource_arns=[arn, f"{arn}/index/{TABLE_GSI}"])
        fn.add_environment(table_env_var(table), tables[table].table_name)

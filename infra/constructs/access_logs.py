"""Access logs of the API Gateway stages: one JSON line per request (HTTP) or WebSocket event."""

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.functions import function_log_group
from infra.nag import acknowledge, managed_policy_rule

# Variables both kinds of API log (http-api-logging-variables / websocket-api-logging in the
# API Gateway developer guide); the request id is required in every format.
_COMMON_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
}
HTTP_FIELDS = {
    **_COMMON_FIELDS,
    "httpMethod": "$context.httpMethod",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}
WEBSOCKET_FIELDS = {
    **_COMMON_FIELDS,
    "eventType": "$context.eventType",
    "connectionId": "$context.connectionId",
    "error": "$context.error.message",
}

# API Gateway's documented policy for its account-level CloudWatch Logs role.
PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    """JSON lines of `fields` into `log_group`."""

    def __init__(self, log_group: logs.ILogGroup, fields: dict[str, str]) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = apigw.AccessLogFormat.custom(json.dumps(fields, separators=(",", ":")))

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


def access_logs(scope: Construct, construct_id: str, fields: dict[str, str]) -> AccessLogSettings:
    """A log group `construct_id` in `scope` (the Lambdas' retention) and the settings that write to it."""
    return AccessLogSettings(function_log_group(scope, construct_id), fields)


def api_gateway_logging_role(scope: Construct, construct_id: str, *, config: InfraConfig) -> apigw.CfnAccount:
    """The account-wide role API Gateway writes REST and WebSocket logs with (HTTP APIs need none).

    A stage with logging is refused until the account (per region) has one. In AWS the role is
    retained: the setting outlives this stack, and would otherwise point at a deleted role.
    """
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(PUSH_TO_CLOUDWATCH_POLICY)],
    )
    role.apply_removal_policy(RemovalPolicy.DESTROY if config.local else RemovalPolicy.RETAIN)
    acknowledge(
        role,
        managed_policy_rule(PUSH_TO_CLOUDWATCH_POLICY),
        "This is the policy API Gateway documents for its account-level logging role; API Gateway "
        "creates the execution log groups itself, so the role cannot be scoped to known groups.",
    )
    return apigw.CfnAccount(scope, construct_id, cloud_watch_role_arn=role.role_arn)

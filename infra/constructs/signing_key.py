from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.bundling import FUNCTIONS_SOURCE, FunctionBundler, bundled_code
from infra.config import InfraConfig
from infra.constructs.functions import (
    acknowledge_pinned_runtime,
    execution_role,
    function_log_group,
    function_tracing,
    powertools_environment,
)
from infra.nag import acknowledge


class SigningKeyConstruct(Construct):
    """The JWT signing key: a secret that a deploy-time custom resource fills with an ES256 key.

    `jwks` is the public half (a JWKS document as a token), handed to every service so that
    tokens are verified without a network call; only the auth function may read the secret.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Let's Live JWT signing key (ES256 private key, JSON)",
            removal_policy=RemovalPolicy.DESTROY if config.local else RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Services verify access tokens against the JWKS they were given at deploy time, so a scheduled "
            "rotation outside a deploy would make every issued token unverifiable; key rotation (old and "
            "new keys published side by side in the JWKS) is not implemented yet.",
        )
        log_group = function_log_group(self, "Logs")
        self.function = lambda_.Function(
            self,
            "Function",
            role=execution_role(self, "Role", config=config, log_group=log_group),
            log_group=log_group,
            runtime=runtime,
            architecture=lambda_.Architecture.X86_64,
            handler="functions.keys.handler.handler",
            code=bundled_code(FUNCTIONS_SOURCE, FunctionBundler("keys")),
            layers=[layer],
            timeout=Duration.seconds(30),
            description="Creates the JWT signing key at deploy time",
            tracing=function_tracing(config),
            environment=powertools_environment(config, "keys"),
        )
        acknowledge_pinned_runtime(self.function, config)
        self.secret.grant_read(self.function)
        self.secret.grant_write(self.function)
        resource = CustomResource(
            self,
            "Key",
            service_token=self.function.function_arn,
            resource_type="Custom::SigningKey",
            properties={"SecretId": self.secret.secret_arn},
        )
        self.jwks = resource.get_att_string("Jwks")

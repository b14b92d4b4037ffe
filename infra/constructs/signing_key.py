from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.bundling import FUNCTIONS_SOURCE, FunctionBundler, bundled_code
from infra.config import InfraConfig


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
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=runtime,
            architecture=lambda_.Architecture.X86_64,
            handler="functions.keys.handler.handler",
            code=bundled_code(FUNCTIONS_SOURCE, FunctionBundler("keys")),
            layers=[layer],
            timeout=Duration.seconds(30),
            description="Creates the JWT signing key at deploy time",
        )
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

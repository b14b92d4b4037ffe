"""The secret that proves a request to the HTTP API came through the CDN stack's distribution.

The distribution sends it to the API origin in `ORIGIN_VERIFY_HEADER` (a CloudFormation dynamic
reference, resolved when the CDN stack deploys: the value is in no template); only the auth
function may read it, to believe the viewer address the `/api/*` function sends
(`functions/auth/addresses.py`). Locally the edge (`localstack/edge.py`) reads it from the
emulator and sends both headers as the distribution does. It lives in the API stack, which the CDN stack already depends
on: the reverse would be a cycle.
"""

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constants import OUTPUT_ORIGIN_VERIFY_SECRET
from infra.nag import acknowledge
from letslive.constants import ENV_ORIGIN_VERIFY_SECRET

# Letters and digits only: it travels as an HTTP header value.
SECRET_LENGTH = 64


class OriginVerifyConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, reader: lambda_.Function) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Let's Live: the header value CloudFront sends to the HTTP API (origin verification)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SECRET_LENGTH, exclude_punctuation=True, include_space=False
            ),
            # Nothing depends on the value outliving the stack: a new one reaches CloudFront with
            # the deploy that creates it.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "CloudFormation copies the value into the distribution's origin header only when the CDN stack "
            "updates the distribution, so a scheduled rotation would leave CloudFront sending the old value "
            "and every login would fall back to being throttled by edge address; it is replaced by "
            "re-creating the secret and deploying both stacks.",
        )
        self.secret.grant_read(reader)
        reader.add_environment(ENV_ORIGIN_VERIFY_SECRET, self.secret.secret_arn)
        CfnOutput(self, OUTPUT_ORIGIN_VERIFY_SECRET, key=OUTPUT_ORIGIN_VERIFY_SECRET, value=self.secret.secret_arn)

    def header_value(self) -> str:
        """The value as a dynamic reference (`{{resolve:secretsmanager:...}}`): CloudFormation
        resolves it at deploy time, so the value itself never appears in a template."""
        return self.secret.secret_value.unsafe_unwrap()

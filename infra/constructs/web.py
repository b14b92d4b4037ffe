"""The web app's private bucket and the deployment of its static export (`web/out`)."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import DefaultStackSynthesizer, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.nag import acknowledge, managed_policy_rule, rendered_environment

WEB_OUT = Path(__file__).resolve().parents[2] / "web" / "out"
CONFIG_OBJECT = "config.json"
# Content-hashed build assets never change under their name.
ASSETS_PREFIX = "_next/static/"
ASSETS_CACHE = "public, max-age=31536000, immutable"
# Pages, their RSC payloads and `config.json` change with every deployment: browsers revalidate,
# CloudFront keeps them a minute (each deployment also invalidates the distribution).
DOCUMENTS_CACHE = "public, max-age=0, s-maxage=60, must-revalidate"


def require_web_export(root: Path = WEB_OUT) -> Path:
    """The static export to deploy; synthesizing the AWS app without it is a mistake, not a default."""
    if not (root / "index.html").is_file():
        raise FileNotFoundError(
            f"the web app's static export is missing ({root / 'index.html'}): run `make web` to build it "
            "before synthesizing or deploying the AWS app"
        )
    return root


class WebConstruct(Construct):
    """A private bucket (read only by CloudFront through OAC) holding the exported web app."""

    def __init__(self, scope: Construct, construct_id: str, *, log_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.root = require_web_export()
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="s3/web/",
            # Every deployment rewrites it; emptying it on stack deletion would need yet another
            # custom resource, so it is kept like the data is.
            removal_policy=RemovalPolicy.RETAIN,
        )

    def deploy(self, distribution: cloudfront.IDistribution, runtime_config: Mapping[str, Any]) -> None:
        """Upload the export and `config.json` (deploy-time values allowed), then invalidate."""
        # Hashed assets first and never pruned: a page still open from the previous deployment
        # keeps loading its chunks, and new pages never reference a chunk not yet uploaded.
        assets = s3deploy.BucketDeployment(
            self,
            "Assets",
            destination_bucket=self.bucket,
            destination_key_prefix=ASSETS_PREFIX,
            sources=[s3deploy.Source.asset(str(self.root / ASSETS_PREFIX))],
            cache_control=[s3deploy.CacheControl.from_string(ASSETS_CACHE)],
            prune=False,
            memory_limit=512,
        )
        documents = s3deploy.BucketDeployment(
            self,
            "Documents",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(self.root), exclude=[ASSETS_PREFIX.rstrip("/")]),
                s3deploy.Source.json_data(CONFIG_OBJECT, dict(runtime_config)),
            ],
            # Pruning skips what `exclude` matches, so the hashed assets survive.
            exclude=[f"{ASSETS_PREFIX}*"],
            cache_control=[s3deploy.CacheControl.from_string(DOCUMENTS_CACHE)],
            distribution=distribution,
            distribution_paths=["/*"],
            memory_limit=512,
        )
        documents.node.add_dependency(assets)
        self._acknowledge_deployment_handler()

    def _acknowledge_deployment_handler(self) -> None:
        # `BucketDeployment` runs one singleton Lambda per stack (created at the stack's root),
        # whose runtime, managed policy and wildcard grants CDK chooses.
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(child, "AwsSolutions-L1", "CDK's BucketDeployment handler; aws-cdk-lib pins its runtime.")
                acknowledge(
                    child,
                    managed_policy_rule("service-role/AWSLambdaBasicExecutionRole"),
                    "CDK's BucketDeployment handler writes only its own logs with the basic execution role.",
                )
                for finding in self._deployment_wildcards(stack):
                    acknowledge(
                        child,
                        f"AwsSolutions-IAM5[{finding}]",
                        "CDK's BucketDeployment grants: read of this deployment's asset objects, sync "
                        "(put, delete, list) of the web bucket's objects, and CloudFront invalidations, "
                        "which IAM cannot scope to one distribution ID known before deployment.",
                    )

    def _deployment_wildcards(self, stack: Stack) -> tuple[str, ...]:
        web_bucket = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        _, region, account = rendered_environment(stack)
        assets = f"cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-{account}-{region}"
        return (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:DeleteObject*",
            "Action::s3:Abort*",
            f"Resource::<{web_bucket}.Arn>/*",
            f"Resource::arn:<AWS::Partition>:s3:::{assets}/*",
            "Resource::*",
        )

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import OUTPUT_DISTRIBUTION_ID, OUTPUT_WEB_URL, OUTPUT_WEBSOCKET_URL
from infra.constructs.cdn import AccessLogsConstruct, CdnConstruct, MediaInvalidation
from infra.constructs.origin_verify import OriginVerifyConstruct
from infra.constructs.web import WebConstruct


class CdnStack(Stack):
    """AWS only: the distribution in front of the web app, the HTTP API and the media bucket.

    Depends on the data stack (the media bucket, by name) and the API stack (the HTTP API, its
    origin-verify secret, the chat WebSocket URL for `config.json`); nothing depends on it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        media_bucket: s3.IBucket,
        http_api: apigwv2.IHttpApi,
        origin_verify: OriginVerifyConstruct,
        websocket_url: str,
        ingest_url: str | None,
        media_invalidator: iam.IRole | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.logs = AccessLogsConstruct(self, "AccessLogs")
        self.web = WebConstruct(self, "Web", log_bucket=self.logs.bucket)
        self.cdn = CdnConstruct(
            self,
            "Cdn",
            config=config,
            media_bucket_name=media_bucket.bucket_name,
            http_api=http_api,
            origin_verify_header=origin_verify.header_value(),
            web_bucket=self.web.bucket,
            log_bucket=self.logs.bucket,
        )
        # Deleting a VOD invalidates its media here (the API stack's consumer, `VodMediaConsumer`).
        if media_invalidator is not None:
            self.media_invalidation = MediaInvalidation(
                self,
                "MediaInvalidation",
                stage=config.stage,
                distribution=self.cdn.distribution,
                role=media_invalidator,
            )
        # The same keys the local edge serves as `/config.json` (`localstack/platform.py`).
        self.web.deploy(self.cdn.distribution, {"websocket_url": websocket_url, "ingest_url": ingest_url})
        CfnOutput(self, OUTPUT_WEB_URL, key=OUTPUT_WEB_URL, value=self.cdn.url)
        CfnOutput(self, OUTPUT_DISTRIBUTION_ID, key=OUTPUT_DISTRIBUTION_ID, value=self.cdn.distribution.distribution_id)
        # Beside the web URL: the chat endpoint browsers connect to (it is not on this origin).
        CfnOutput(self, OUTPUT_WEBSOCKET_URL, key=OUTPUT_WEBSOCKET_URL, value=websocket_url)

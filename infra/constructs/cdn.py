"""The one CloudFront origin users see: the web app at `/`, the HTTP API at `/api/*`, HLS at `/hls/*`.

`localstack/edge.py` is the local stand-in for this distribution and routes the same way.
"""

from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import InfraConfig
from infra.constants import MEDIA_MIN_TTL_SECONDS, PLAYLIST_TTL_SECONDS, SEGMENT_TTL_SECONDS
from infra.nag import acknowledge
from letslive.constants import MEDIA_PREFIX, ORIGIN_VERIFY_HEADER

FUNCTIONS_DIR = Path(__file__).resolve().parent / "cloudfront"
API_REQUEST_FUNCTION = FUNCTIONS_DIR / "api_request.js"
WEB_REQUEST_FUNCTION = FUNCTIONS_DIR / "web_request.js"
API_PATH_PATTERN = "/api/*"
MEDIA_PATH_PATTERN = f"/{MEDIA_PREFIX}/*"
PLAYLIST_PATH_PATTERN = f"/{MEDIA_PREFIX}/*.m3u8"
# Segments are immutable (a year, as their own Cache-Control says); live playlists change every
# segment, so CloudFront keeps them at most a second (request collapsing still shields S3). The
# values are shared with the local edge, which caches as these policies do.
MEDIA_MIN_TTL = Duration.seconds(MEDIA_MIN_TTL_SECONDS)
SEGMENT_TTL = Duration.seconds(SEGMENT_TTL_SECONDS)
PLAYLIST_TTL = Duration.seconds(PLAYLIST_TTL_SECONDS)
HSTS_MAX_AGE = Duration.days(730)
# The local edge's CORS answer for media (`localstack/edge.py`), for players on other origins.
MEDIA_CORS_HEADERS = ("Range", "If-None-Match", "If-Modified-Since")
MEDIA_CORS_EXPOSED = ("Content-Length", "Content-Range", "ETag", "Age")
LOG_RETENTION = Duration.days(90)
_IMPORTED_BUCKET_WARNING = "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac"


def distribution_id_parameter(stage: str) -> str:
    """The SSM parameter holding the distribution id, a name both stacks know without a
    reference (the API stack's consumers cannot reference the later CDN stack)."""
    return f"/letslive/{stage}/cdn/distribution-id"


class MediaInvalidation(Construct):
    """Publishes the distribution's id in its SSM parameter and lets `role` (the VOD media
    consumer's, from the API stack) create invalidations on this distribution only.

    The policy lives here, attached to the role by name: granting through the role would put the
    distribution's ARN into the API stack's policy, which the CDN stack depends on (a cycle)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        distribution: cloudfront.IDistribution,
        role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        self.parameter = ssm.StringParameter(
            self,
            "DistributionId",
            parameter_name=distribution_id_parameter(stage),
            string_value=distribution.distribution_id,
            description="The media distribution's id, read by the VOD media consumer to invalidate",
        )
        stack = Stack.of(self)
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["cloudfront:CreateInvalidation"],
                    resources=[
                        stack.format_arn(
                            service="cloudfront",
                            region="",
                            resource="distribution",
                            resource_name=distribution.distribution_id,
                        )
                    ],
                )
            ],
        )


def allow_distribution_reads(bucket: s3.IBucket) -> None:
    """Let CloudFront (OAC) read the media under `MEDIA_PREFIX/` from this account's distributions.

    The distribution depends on the API stack, which depends on the data stack: a policy naming
    the distribution's ARN on the media bucket would make the data stack depend on the CDN stack
    (a cycle). So the data stack grants to `cloudfront.amazonaws.com` with `AWS:SourceArn` matching
    any distribution of this account, and the CDN stack imports the bucket by name (CDK then
    leaves its policy alone). The objects are public video anyway; only this account's
    CloudFront, signing with SigV4, can fetch them, and only under the media prefix.
    """
    stack = Stack.of(bucket)
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudFrontReadsMedia",
            principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{MEDIA_PREFIX}/*")],
            conditions={
                "ArnLike": {
                    "AWS:SourceArn": stack.format_arn(
                        service="cloudfront", region="", resource="distribution", resource_name="*"
                    )
                }
            },
        )
    )


class AccessLogsConstruct(Construct):
    """The bucket that receives the distribution's and the web bucket's access logs."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # S3 server access logs are delivered by bucket policy (read on the target bucket), not
        # by the legacy log-delivery ACL.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # CloudFront cannot write to SSE-KMS buckets
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront's standard logs are delivered with an ACL grant, so ACLs stay enabled.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="access-log-retention",
                    expiration=LOG_RETENTION,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "This is the access log destination; logging its own accesses into itself would loop.",
        )


class CdnConstruct(Construct):
    """The distribution, its behaviours, policies and viewer-request functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        media_bucket_name: str,
        http_api: apigwv2.IHttpApi,
        origin_verify_header: str,
        web_bucket: s3.IBucket,
        log_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        access_control = cloudfront.S3OriginAccessControl(
            self, "OriginAccessControl", signing=cloudfront.Signing.SIGV4_ALWAYS
        )
        # Imported by name: see `allow_distribution_reads` (granted in the data stack).
        media_bucket = s3.Bucket.from_bucket_name(self, "MediaBucket", media_bucket_name)
        media_origin = origins.S3BucketOrigin.with_origin_access_control(
            media_bucket, origin_access_control=access_control
        )
        web_origin = origins.S3BucketOrigin.with_origin_access_control(web_bucket, origin_access_control=access_control)
        api_origin = origins.HttpOrigin(
            f"{http_api.api_id}.execute-api.{Stack.of(self).region}.{Stack.of(self).url_suffix}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            # Proves to the API that the request came through here, so it may believe the viewer
            # address the API function sends (which drops a viewer-sent header of this name).
            custom_headers={ORIGIN_VERIFY_HEADER: origin_verify_header},
        )

        self.web_request_function = cloudfront.Function(
            self,
            "WebRequestFunction",
            code=cloudfront.FunctionCode.from_file(file_path=str(WEB_REQUEST_FUNCTION)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Serves a page folder's index.html; redirects to the trailing-slash address",
        )
        self.api_request_function = cloudfront.Function(
            self,
            "ApiRequestFunction",
            code=cloudfront.FunctionCode.from_file(file_path=str(API_REQUEST_FUNCTION)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Strips /api (the HTTP API's routes are /<service>/...); sends the viewer's address",
        )

        self.segment_cache = cloudfront.CachePolicy(
            self,
            "SegmentCache",
            comment="HLS segments and thumbnails: the object's Cache-Control, at most a year",
            min_ttl=MEDIA_MIN_TTL,  # a live thumbnail says max-age=15 and is honoured
            default_ttl=SEGMENT_TTL,
            max_ttl=SEGMENT_TTL,
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
        )
        self.playlist_cache = cloudfront.CachePolicy(
            self,
            "PlaylistCache",
            comment="HLS playlists: one second",
            min_ttl=MEDIA_MIN_TTL,
            default_ttl=PLAYLIST_TTL,
            max_ttl=PLAYLIST_TTL,
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        hsts = cloudfront.ResponseHeadersStrictTransportSecurity(
            access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
        )
        nosniff = cloudfront.ResponseHeadersContentTypeOptions(override=True)
        self.media_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "MediaHeaders",
            comment="HLS: CORS for players on any origin, HSTS, nosniff",
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_credentials=False,
                access_control_allow_headers=list(MEDIA_CORS_HEADERS),
                access_control_allow_methods=["GET", "HEAD", "OPTIONS"],
                access_control_allow_origins=["*"],
                access_control_expose_headers=list(MEDIA_CORS_EXPOSED),
                access_control_max_age=Duration.days(1),
                origin_override=True,
            ),
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=hsts, content_type_options=nosniff
            ),
        )
        self.security_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Web app and API: HSTS, nosniff, no framing, referrer policy",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=hsts,
                content_type_options=nosniff,
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
                # Only what cannot break the export's inline bootstrap scripts.
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy="frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
                    override=True,
                ),
            ),
        )

        https = cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS

        def media(cache_policy: cloudfront.ICachePolicy, *, compress: bool) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=media_origin,
                viewer_protocol_policy=https,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cache_policy,
                response_headers_policy=self.media_headers,
                compress=compress,  # playlists are text; video does not compress
            )

        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            if config.certificate_arn
            else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Let's Live ({config.stage}): web app, /api and /{MEDIA_PREFIX}",
            default_behavior=cloudfront.BehaviorOptions(
                origin=web_origin,
                viewer_protocol_policy=https,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                # Honours the objects' Cache-Control (see `infra.constructs.web`); no query
                # strings in the key: the pages read `?u=` in the browser.
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.security_headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=self.web_request_function, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            # Evaluated in this order: playlists before the rest of the media.
            additional_behaviors={
                PLAYLIST_PATH_PATTERN: media(self.playlist_cache, compress=True),
                MEDIA_PATH_PATTERN: media(self.segment_cache, compress=False),
                API_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=api_origin,
                    viewer_protocol_policy=https,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # With caching disabled this forwards Authorization too; the Host header
                    # must be API Gateway's own.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=self.security_headers,
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            function=self.api_request_function,
                            event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                        )
                    ],
                ),
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            domain_names=[config.domain_name] if config.domain_name else None,
            certificate=certificate,
            # Only with a certificate of ours: the default *.cloudfront.net one ignores it.
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix="cloudfront/",
        )
        self.domain_name = config.domain_name or self.distribution.distribution_domain_name
        self.url = f"https://{self.domain_name}"

        # The media bucket's policy is the data stack's (see `allow_distribution_reads`).
        Annotations.of(self).acknowledge_warning(
            _IMPORTED_BUCKET_WARNING, "the data stack grants this distribution's reads on the media bucket"
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "A public live-streaming site for viewers anywhere: no geo restriction is wanted.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "No WAF web ACL: a CloudFront ACL must live in us-east-1 and is an account-level cost "
            "decision; the auth service throttles logins itself and every write is authenticated.",
        )
        if certificate is None:
            acknowledge(
                self.distribution,
                "AwsSolutions-CFR4",
                "Without a custom domain CloudFront serves its default *.cloudfront.net certificate, "
                "whose minimum protocol cannot be set; with one, TLSv1.2_2021 is the minimum.",
            )

"""The CDN stack: one CloudFront origin for the web app (`/`), the HTTP API (`/api/*`) and HLS (`/hls/*`)."""

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk.assertions import Annotations, Match, Template
from pydantic import ValidationError

from infra.app import build_app
from infra.config import InfraConfig
from infra.constants import (
    CTX_CERTIFICATE_ARN,
    CTX_DOMAIN_NAME,
    CTX_INGEST_URL,
    OUTPUT_DISTRIBUTION_ID,
    OUTPUT_ORIGIN_VERIFY_SECRET,
    OUTPUT_WEB_URL,
    OUTPUT_WEBSOCKET_URL,
)
from infra.constructs.cdn import API_REQUEST_FUNCTION, WEB_REQUEST_FUNCTION
from infra.constructs.web import ASSETS_CACHE, CONFIG_OBJECT, DOCUMENTS_CACHE, require_web_export
from infra.nag import checks
from letslive.constants import (
    ENV_MEDIA_BASE_URL,
    ENV_ORIGIN_VERIFY_SECRET,
    ORIGIN_VERIFY_HEADER,
    REFRESH_COOKIE_PATH,
    VIEWER_ADDRESS_HEADER,
    Service,
)
from localstack.deploy import Deployment
from localstack.platform import web_config
from tests.infra.conftest import Synthesized

DOMAIN = "live.example.com"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
INGEST = "rtmps://ingest.example.com:443/live"
YEAR = 365 * 24 * 3600
CLOUDFRONT_HOST = "d111111abcdef8.cloudfront.net"
VIEWER_IP = "198.51.100.7"


@pytest.fixture(scope="module")
def domain_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The AWS shape with a custom domain, its certificate and an ingest URL."""
    outdir = tmp_path_factory.mktemp("cdk-domain")
    context = {CTX_DOMAIN_NAME: DOMAIN, CTX_CERTIFICATE_ARN: CERTIFICATE, CTX_INGEST_URL: INGEST}
    app = build_app(App(context=context, outdir=str(outdir)))
    app.synth()
    return Synthesized(app, outdir, "prod")


def _cdn(app: Synthesized) -> Template:
    return app.template("Cdn")


def _one(template: Template, kind: str) -> tuple[str, Mapping[str, Any]]:
    found = template.find_resources(kind)
    assert len(found) == 1, found
    return next(iter(found.items()))


def _distribution(app: Synthesized) -> Mapping[str, Any]:
    return cast(
        Mapping[str, Any], _one(_cdn(app), "AWS::CloudFront::Distribution")[1]["Properties"]["DistributionConfig"]
    )


def _behaviours(app: Synthesized) -> dict[str, Mapping[str, Any]]:
    config = _distribution(app)
    return {"default": config["DefaultCacheBehavior"], **{b["PathPattern"]: b for b in config["CacheBehaviors"]}}


def _origins(app: Synthesized) -> dict[str, Mapping[str, Any]]:
    return {origin["Id"]: origin for origin in _distribution(app)["Origins"]}


def _logical_id(template: Template, kind: str, prefix: str) -> str:
    ids = [logical_id for logical_id in template.find_resources(kind) if logical_id.startswith(prefix)]
    assert len(ids) == 1, (kind, prefix, ids)
    return ids[0]


# --- shape and dependencies ------------------------------------------------------------------


def test_the_cdn_is_aws_only(aws_app: Synthesized, local_app: Synthesized) -> None:
    assert aws_app.app.node.try_find_child("LetsLive-prod-Cdn") is not None
    assert {child.node.id for child in local_app.app.node.children if isinstance(child, Stack)} == {
        "LetsLive-local-Data",
        "LetsLive-local-Api",
    }


def test_no_stack_depends_on_the_cdn(aws_app: Synthesized) -> None:
    cdn = aws_app.stack("Cdn")
    assert {"LetsLive-prod-Data", "LetsLive-prod-Api"} <= {stack.node.id for stack in cdn.dependencies}
    others = [child for child in aws_app.app.node.children if isinstance(child, Stack) and child is not cdn]
    for stack in others:
        assert cdn not in stack.dependencies, stack.node.id
        assert "LetsLive-prod-Cdn" not in json.dumps(Template.from_stack(stack).to_json()), stack.node.id


def test_the_template_has_no_unacknowledged_cdk_warnings(aws_app: Synthesized, domain_app: Synthesized) -> None:
    for app in (aws_app, domain_app):
        Annotations.from_stack(app.stack("Cdn")).has_no_warning("*", Match.any_value())


def test_the_custom_domain_shape_passes_cdk_nag(domain_app: Synthesized) -> None:
    # `test_nag` covers the default shapes; CFR4 is acknowledged only without a certificate.
    violations = checks().validate_scope(domain_app.app).violations
    assert not [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in violations]


# --- behaviours ------------------------------------------------------------------------------


def test_behaviours_route_like_the_local_edge(aws_app: Synthesized) -> None:
    config = _distribution(aws_app)
    # CloudFront takes the first match: playlists before the rest of the media.
    assert [b["PathPattern"] for b in config["CacheBehaviors"]] == ["/hls/*.m3u8", "/hls/*", "/api/*"]
    behaviours, origins = _behaviours(aws_app), _origins(aws_app)
    web = origins[behaviours["default"]["TargetOriginId"]]
    media = origins[behaviours["/hls/*"]["TargetOriginId"]]
    api = origins[behaviours["/api/*"]["TargetOriginId"]]
    assert behaviours["/hls/*.m3u8"]["TargetOriginId"] == behaviours["/hls/*"]["TargetOriginId"]
    assert web["DomainName"] == {
        "Fn::GetAtt": [_logical_id(_cdn(aws_app), "AWS::S3::Bucket", "WebBucket"), "RegionalDomainName"]
    }
    assert "MediaBucket" in json.dumps(media["DomainName"])  # the data stack's bucket, imported by name
    assert "HttpApi" in json.dumps(api["DomainName"])
    assert ".execute-api." in json.dumps(api["DomainName"])
    assert api["CustomOriginConfig"] == {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}
    assert "OriginPath" not in api  # the `/api` prefix is stripped by the function instead


def test_every_behaviour_redirects_to_https(aws_app: Synthesized) -> None:
    for behaviour in _behaviours(aws_app).values():
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"


def test_both_buckets_are_read_through_one_origin_access_control(aws_app: Synthesized) -> None:
    template = _cdn(aws_app)
    oac_id, oac = _one(template, "AWS::CloudFront::OriginAccessControl")
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (config["OriginAccessControlOriginType"], config["SigningBehavior"], config["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    s3_origins = [o for o in _origins(aws_app).values() if "S3OriginConfig" in o]
    assert len(s3_origins) == 2
    for origin in s3_origins:
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
        assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_the_api_behaviour_forwards_everything_and_caches_nothing(aws_app: Synthesized) -> None:
    api = _behaviours(aws_app)["/api/*"]
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert api["CachePolicyId"] == cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id
    # Cookies, query strings and (caching being disabled) Authorization; API Gateway's own Host.
    assert (
        api["OriginRequestPolicyId"]
        == cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.origin_request_policy_id
    )


def test_the_web_behaviour_is_cached_by_path_only(aws_app: Synthesized) -> None:
    web = _behaviours(aws_app)["default"]
    assert web["CachePolicyId"] == cloudfront.CachePolicy.CACHING_OPTIMIZED.cache_policy_id
    assert web["AllowedMethods"] == ["GET", "HEAD"]
    assert "OriginRequestPolicyId" not in web


# --- cache policies --------------------------------------------------------------------------


def _cache_policy(app: Synthesized, behaviour: str) -> Mapping[str, Any]:
    ref = _behaviours(app)[behaviour]["CachePolicyId"]
    return cast(Mapping[str, Any], _cdn(app).to_json()["Resources"][ref["Ref"]]["Properties"]["CachePolicyConfig"])


def test_playlists_are_cached_for_a_second(aws_app: Synthesized) -> None:
    policy = _cache_policy(aws_app, "/hls/*.m3u8")
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 1, 1)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["EnableAcceptEncodingGzip"]
    assert key["EnableAcceptEncodingBrotli"]


def test_segments_and_thumbnails_follow_their_cache_control_up_to_a_year(aws_app: Synthesized) -> None:
    policy = _cache_policy(aws_app, "/hls/*")
    # Segments say `max-age=31536000, immutable`; a live thumbnail `max-age=15` (min TTL 0 honours it).
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, YEAR, YEAR)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert _behaviours(aws_app)["/hls/*"]["Compress"] is False  # video does not compress


# --- response headers ------------------------------------------------------------------------


def _headers_policy(app: Synthesized, behaviour: str) -> Mapping[str, Any]:
    ref = _behaviours(app)[behaviour]["ResponseHeadersPolicyId"]["Ref"]
    resource = _cdn(app).to_json()["Resources"][ref]
    return cast(Mapping[str, Any], resource["Properties"]["ResponseHeadersPolicyConfig"])


def test_media_answers_cors_like_the_local_edge(aws_app: Synthesized) -> None:
    from localstack.edge import CORS_HEADERS

    for behaviour in ("/hls/*.m3u8", "/hls/*"):
        cors = _headers_policy(aws_app, behaviour)["CorsConfig"]
        assert cors["AccessControlAllowOrigins"] == {"Items": ["*"]}
        assert ", ".join(cors["AccessControlAllowMethods"]["Items"]) == CORS_HEADERS["Access-Control-Allow-Methods"]
        assert ", ".join(cors["AccessControlAllowHeaders"]["Items"]) == CORS_HEADERS["Access-Control-Allow-Headers"]
        assert ", ".join(cors["AccessControlExposeHeaders"]["Items"]) == CORS_HEADERS["Access-Control-Expose-Headers"]
        assert cors["AccessControlMaxAgeSec"] == int(CORS_HEADERS["Access-Control-Max-Age"])
        assert cors["AccessControlAllowCredentials"] is False


def test_the_web_app_and_the_api_get_security_headers(aws_app: Synthesized) -> None:
    for behaviour in ("default", "/api/*"):
        security = _headers_policy(aws_app, behaviour)["SecurityHeadersConfig"]
        assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= YEAR
        assert security["ContentTypeOptions"] == {"Override": True}
        assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
        assert security["ReferrerPolicy"] == {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": True}
        assert "frame-ancestors 'none'" in security["ContentSecurityPolicy"]["ContentSecurityPolicy"]


# --- CloudFront Functions ------------------------------------------------------------------------


def _function_of(app: Synthesized, behaviour: str) -> Mapping[str, Any]:
    (association,) = _behaviours(app)[behaviour]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    logical_id = association["FunctionARN"]["Fn::GetAtt"][0]
    return cast(Mapping[str, Any], _cdn(app).to_json()["Resources"][logical_id]["Properties"])


@pytest.mark.parametrize(("behaviour", "source"), [("default", WEB_REQUEST_FUNCTION), ("/api/*", API_REQUEST_FUNCTION)])
def test_viewer_request_functions_are_the_repository_code(aws_app: Synthesized, behaviour: str, source: Path) -> None:
    function = _function_of(aws_app, behaviour)
    assert function["FunctionCode"] == source.read_text()
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["AutoPublish"] is True


def test_media_has_no_function(aws_app: Synthesized) -> None:
    behaviours = _behaviours(aws_app)
    assert "FunctionAssociations" not in behaviours["/hls/*"]
    assert "FunctionAssociations" not in behaviours["/hls/*.m3u8"]


# Node evaluates the function files as CloudFront does: a script defining `handler(event)`.
_RUN_FUNCTION = """
const vm = require('vm');
const [code, event] = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const handler = vm.runInNewContext(code + '\\n;handler');
process.stdout.write(JSON.stringify(handler(event)));
"""


def _run(
    source: Path,
    uri: str,
    querystring: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, Any] | None = None,
    viewer_ip: str = VIEWER_IP,
) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node runs the CloudFront Functions here; `make node` installs it (the CDK CLI needs it)"
    event = {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": viewer_ip},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": dict(querystring or {}),
            "headers": {"host": {"value": CLOUDFRONT_HOST}, **(headers or {})},
            "cookies": {"letslive_refresh": {"value": "opaque"}},
        },
    }
    result = subprocess.run(
        [node, "-e", _RUN_FUNCTION],
        input=json.dumps([source.read_text(), event]),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return cast(dict[str, Any], json.loads(result.stdout))


@pytest.mark.parametrize(
    ("uri", "origin_uri"),
    [
        ("/api/auth/login", "/auth/login"),
        (f"{REFRESH_COOKIE_PATH}/refresh", REFRESH_COOKIE_PATH.removeprefix("/api") + "/refresh"),
        ("/api/streams", "/streams"),
        ("/api/vods/abc/", "/vods/abc/"),
        ("/api/", "/"),
        ("/apis/x", "/apis/x"),  # only the `/api` segment is a prefix
    ],
)
def test_the_api_function_strips_the_prefix(uri: str, origin_uri: str) -> None:
    request = _run(API_REQUEST_FUNCTION, uri, {"channel": {"value": "a%20b"}})
    assert request["uri"] == origin_uri
    # The rest of the request, the refresh cookie included, is passed on untouched.
    assert request["querystring"] == {"channel": {"value": "a%20b"}}
    assert request["headers"] == {"host": {"value": CLOUDFRONT_HOST}, VIEWER_ADDRESS_HEADER: {"value": VIEWER_IP}}
    assert request["cookies"] == {"letslive_refresh": {"value": "opaque"}}
    assert request["method"] == "GET"


@pytest.mark.parametrize("viewer_ip", ["203.0.113.50", "2001:db8:5::1"])
def test_the_api_function_sends_the_viewer_address_over_any_the_client_sent(viewer_ip: str) -> None:
    forged = {
        VIEWER_ADDRESS_HEADER: {"value": "192.0.2.1", "multiValue": [{"value": "192.0.2.1"}, {"value": "192.0.2.2"}]},
        ORIGIN_VERIFY_HEADER: {"value": "a guess"},
        "authorization": {"value": "Bearer token"},
    }
    request = _run(API_REQUEST_FUNCTION, "/api/auth/login", headers=forged, viewer_ip=viewer_ip)
    assert request["uri"] == "/auth/login"  # the prefix is still stripped
    # The viewer's address replaces the forged ones; a forged verify header never reaches the
    # origin (CloudFront adds the real one); everything else passes.
    assert request["headers"] == {
        "host": {"value": CLOUDFRONT_HOST},
        "authorization": {"value": "Bearer token"},
        VIEWER_ADDRESS_HEADER: {"value": viewer_ip},
    }


@pytest.mark.parametrize(
    ("uri", "origin_uri"),
    [
        ("/", "/index.html"),
        ("/channel/", "/channel/index.html"),
        ("/vod/", "/vod/index.html"),
        ("/_next/static/chunks/app.js", "/_next/static/chunks/app.js"),
        ("/config.json", "/config.json"),
        ("/icon.svg", "/icon.svg"),
        ("//channel/", "/channel/index.html"),
    ],
)
def test_the_web_function_serves_folder_indexes(uri: str, origin_uri: str) -> None:
    request = _run(WEB_REQUEST_FUNCTION, uri, {"u": {"value": "alice"}})
    assert request["uri"] == origin_uri
    assert request["querystring"] == {"u": {"value": "alice"}}


@pytest.mark.parametrize(
    ("uri", "querystring", "location"),
    [
        ("/channel", {"u": {"value": "alice"}}, "/channel/?u=alice"),
        ("/dashboard", {}, "/dashboard/"),
        (
            "/vod",
            {"id": {"value": "a%2Fb"}, "t": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]}},
            "/vod/?id=a%2Fb&t=1&t=2",
        ),
        ("//evil.example", {}, "/evil.example"),  # a dot: not redirected, and never protocol-relative
        ("//evil", {}, "/evil/"),
    ],
)
def test_the_web_function_redirects_to_the_trailing_slash_address(
    uri: str, querystring: Mapping[str, Any], location: str
) -> None:
    response = _run(WEB_REQUEST_FUNCTION, uri, querystring)
    if "statusCode" not in response:  # served as a file
        assert response["uri"] == location
        return
    assert response["statusCode"] == 301
    assert response["headers"] == {"location": {"value": location}}


# --- origin verification: the viewer address is believed only from this distribution -----------


def _origin_verify_secret(app: Synthesized) -> str:
    (secret_id,) = (
        logical_id
        for logical_id in app.template("Api").find_resources("AWS::SecretsManager::Secret")
        if logical_id.startswith("OriginVerify")
    )
    return secret_id


def test_the_api_origin_sends_the_origin_verify_secret_by_dynamic_reference(aws_app: Synthesized) -> None:
    api = _origins(aws_app)[_behaviours(aws_app)["/api/*"]["TargetOriginId"]]
    (header,) = api["OriginCustomHeaders"]
    assert header["HeaderName"] == ORIGIN_VERIFY_HEADER
    # Resolved by CloudFormation at deploy time: no value in the template, only the secret's ARN,
    # exported by the API stack (the CDN stack depends on it, never the reverse).
    prefix, reference, suffix = header["HeaderValue"]["Fn::Join"][1]
    assert (prefix, suffix) == ("{{resolve:secretsmanager:", ":SecretString:::}}")
    outputs = aws_app.template("Api").find_outputs("*").values()
    exports = {output["Export"]["Name"]: output["Value"] for output in outputs if "Export" in output}
    assert exports[reference["Fn::ImportValue"]] == {"Ref": _origin_verify_secret(aws_app)}
    # The other origins are S3's, which get no such header.
    assert [o for o in _origins(aws_app).values() if "OriginCustomHeaders" in o] == [api]


def test_the_origin_verify_secret_is_generated_at_deploy_time(aws_app: Synthesized) -> None:
    secret = aws_app.template("Api").to_json()["Resources"][_origin_verify_secret(aws_app)]
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32
    assert generated["ExcludePunctuation"] is True  # a header value: letters and digits only
    assert "SecretString" not in secret["Properties"]


def _functions_by_handler(app: Synthesized) -> dict[str, Mapping[str, Any]]:
    functions = app.template("Api").find_resources("AWS::Lambda::Function")
    return {fn["Properties"]["Handler"]: fn["Properties"] for fn in functions.values()}


def test_only_the_auth_function_reads_the_origin_verify_secret(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    secret = {"Ref": _origin_verify_secret(aws_app)}
    auth = _functions_by_handler(aws_app)["functions.auth.handler.handler"]
    readers = [
        (policy["Properties"]["Roles"], statement["Action"])
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if secret in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
    assert readers == [
        ([{"Ref": auth["Role"]["Fn::GetAtt"][0]}], ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"])
    ]
    holders = {
        handler
        for handler, props in _functions_by_handler(aws_app).items()
        if ENV_ORIGIN_VERIFY_SECRET in props.get("Environment", {}).get("Variables", {})
    }
    assert holders == {"functions.auth.handler.handler"}
    assert auth["Environment"]["Variables"][ENV_ORIGIN_VERIFY_SECRET] == secret


def test_locally_the_edge_gets_the_origin_verify_secret_as_cloudfront_does(local_app: Synthesized) -> None:
    # Locally the edge stands in for CloudFront: it reads the secret (by the output's ARN) and
    # sends it, so the auth function believes the viewer address the edge sends, as in AWS.
    template = local_app.template("Api").to_json()
    secret = {"Ref": _origin_verify_secret(local_app)}
    assert template["Outputs"][OUTPUT_ORIGIN_VERIFY_SECRET]["Value"] == secret
    auth = _functions_by_handler(local_app)["functions.auth.handler.handler"]
    assert auth["Environment"]["Variables"][ENV_ORIGIN_VERIFY_SECRET] == secret


# --- the web bucket and its deployment ---------------------------------------------------------


def test_the_web_bucket_is_private_and_read_only_by_this_distribution(aws_app: Synthesized) -> None:
    template = _cdn(aws_app)
    bucket_id = _logical_id(template, "AWS::S3::Bucket", "WebBucket")
    bucket = template.to_json()["Resources"][bucket_id]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": _logical_id(template, "AWS::S3::Bucket", "AccessLogs")
    }
    distribution_id = _logical_id(template, "AWS::CloudFront::Distribution", "")
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                        Match.object_like(
                            {
                                "Action": "s3:GetObject",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                # This distribution only, not any of the account's.
                                "Condition": {
                                    "StringEquals": {
                                        "AWS:SourceArn": {
                                            "Fn::Join": ["", Match.array_with([{"Ref": distribution_id}])]
                                        }
                                    }
                                },
                            }
                        ),
                    ]
                )
            },
        },
    )


def test_the_media_bucket_lets_this_accounts_cloudfront_read_media(
    aws_app: Synthesized, local_app: Synthesized
) -> None:
    statement = {
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Resource": Match.object_like({"Fn::Join": ["", Match.array_with(["/hls/*"])]}),
        "Condition": {
            "ArnLike": {
                "AWS:SourceArn": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":cloudfront::",
                            {"Ref": "AWS::AccountId"},
                            ":distribution/*",
                        ],
                    ]
                }
            }
        },
    }
    aws_app.template("Data").has_resource_properties(
        "AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([Match.object_like(statement)])}}
    )
    local_policies = json.dumps(local_app.template("Data").find_resources("AWS::S3::BucketPolicy"))
    assert "cloudfront.amazonaws.com" not in local_policies


def _deployments(app: Synthesized) -> dict[str, Mapping[str, Any]]:
    found = _cdn(app).find_resources("Custom::CDKBucketDeployment")
    return {logical_id: resource["Properties"] for logical_id, resource in found.items()}


def _deployment(app: Synthesized, prefix: str) -> Mapping[str, Any]:
    (found,) = (props for logical_id, props in _deployments(app).items() if logical_id.startswith(prefix))
    return found


def _asset_dir(app: Synthesized, object_key: str) -> Path:
    return app.outdir / f"asset.{object_key.removesuffix('.zip')}"


def test_hashed_assets_are_immutable_and_never_pruned(aws_app: Synthesized) -> None:
    assets = _deployment(aws_app, "WebAssets")
    assert assets["DestinationBucketKeyPrefix"] == "_next/static/"
    assert assets["SystemMetadata"] == {"cache-control": ASSETS_CACHE}
    assert assets["Prune"] is False
    (key,) = assets["SourceObjectKeys"]
    assert any(_asset_dir(aws_app, key).rglob("*.js"))


def test_pages_and_config_revalidate_and_invalidate_the_distribution(aws_app: Synthesized) -> None:
    documents = _deployment(aws_app, "WebDocuments")
    assert documents["SystemMetadata"] == {"cache-control": DOCUMENTS_CACHE}
    assert "max-age=0" in DOCUMENTS_CACHE
    assert "must-revalidate" in DOCUMENTS_CACHE
    assert documents["Exclude"] == ["_next/static/*"]  # the pruning sync leaves the assets alone
    assert documents["DistributionPaths"] == ["/*"]
    assert documents["DistributionId"] == {"Ref": _logical_id(_cdn(aws_app), "AWS::CloudFront::Distribution", "")}
    site, _config = (_asset_dir(aws_app, key) for key in documents["SourceObjectKeys"])
    assert (site / "index.html").is_file()
    assert (site / "channel" / "index.html").is_file()
    assert not (site / "_next" / "static").exists()
    # New pages are uploaded only once the chunks they reference are.
    (documents_id,) = (lid for lid in _deployments(aws_app) if lid.startswith("WebDocuments"))
    depends_on = _cdn(aws_app).to_json()["Resources"][documents_id]["DependsOn"]
    assert any(lid.startswith("WebAssetsCustomResource") for lid in depends_on), depends_on


def _runtime_config(app: Synthesized) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """`config.json` as staged, each deploy-time value left as its marker's name, and the markers.

    A marker stands for a whole JSON value (quotes included), so it is quoted here to parse."""
    documents = _deployment(app, "WebDocuments")
    config_key = documents["SourceObjectKeys"][1]
    markers: Mapping[str, Any] = documents["SourceMarkers"][1]
    text = (_asset_dir(app, config_key) / CONFIG_OBJECT).read_text()
    for marker in markers:
        text = text.replace(marker, json.dumps(marker))
    return json.loads(text), markers


def test_config_json_has_the_local_edges_shape_with_deploy_time_values(aws_app: Synthesized) -> None:
    config, markers = _runtime_config(aws_app)
    local = web_config(cast(Deployment, SimpleNamespace(websocket_url="wss://x")), 1935)
    assert set(config) == set(local)
    # Filled in at deploy time: the API stack's WebSocket URL, the ingest stack's load balancer.
    websocket, ingest = (json.dumps(markers[config[key]]) for key in ("websocket_url", "ingest_url"))
    assert "ChatWebSocketApi" in websocket
    assert "wss://" in websocket
    assert "LetsLive-prod-Ingest" in ingest


def test_config_json_carries_the_ingest_url(domain_app: Synthesized) -> None:
    config, _ = _runtime_config(domain_app)
    assert config["ingest_url"] == INGEST


def test_synth_without_the_web_export_says_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make web"):
        require_web_export(tmp_path / "out")


# --- protocol, logging, domain ------------------------------------------------------------------


def test_http3_and_access_logs(aws_app: Synthesized) -> None:
    config = _distribution(aws_app)
    assert config["HttpVersion"] == "http2and3"
    assert config["Logging"]["Bucket"] == {
        "Fn::GetAtt": [_logical_id(_cdn(aws_app), "AWS::S3::Bucket", "AccessLogs"), "RegionalDomainName"]
    }
    logs = _cdn(aws_app).to_json()["Resources"][_logical_id(_cdn(aws_app), "AWS::S3::Bucket", "AccessLogs")]
    # CloudFront's standard logs are delivered with an ACL grant: ACLs must stay enabled.
    assert logs["Properties"]["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}


def test_without_a_domain_the_default_certificate_is_used(aws_app: Synthesized) -> None:
    config = _distribution(aws_app)
    assert "Aliases" not in config
    assert "ViewerCertificate" not in config


def test_a_custom_domain_gets_its_certificate_and_modern_tls(domain_app: Synthesized) -> None:
    config = _distribution(domain_app)
    assert config["Aliases"] == [DOMAIN]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }


# --- outputs and the media base URL --------------------------------------------------------------


def test_outputs_name_the_web_url_the_distribution_and_the_websocket(aws_app: Synthesized) -> None:
    outputs = _cdn(aws_app).find_outputs("*")
    distribution_id = _logical_id(_cdn(aws_app), "AWS::CloudFront::Distribution", "")
    assert outputs[OUTPUT_WEB_URL]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]
    }
    assert outputs[OUTPUT_DISTRIBUTION_ID]["Value"] == {"Ref": distribution_id}
    assert "wss://" in json.dumps(outputs[OUTPUT_WEBSOCKET_URL]["Value"])


def test_the_web_url_is_the_custom_domain(domain_app: Synthesized) -> None:
    assert _cdn(domain_app).find_outputs(OUTPUT_WEB_URL)[OUTPUT_WEB_URL]["Value"] == f"https://{DOMAIN}"


def _media_base_urls(app: Synthesized) -> dict[str, str | None]:
    functions = app.template("Api").find_resources("AWS::Lambda::Function")
    by_handler = {fn["Properties"]["Handler"]: fn["Properties"] for fn in functions.values()}
    return {
        service.value: by_handler[f"functions.{service.value}.handler.handler"]
        .get("Environment", {})
        .get("Variables", {})
        .get(ENV_MEDIA_BASE_URL)
        for service in (Service.STREAMS, Service.VODS)
    }


def test_playback_urls_are_same_origin_paths_in_aws(aws_app: Synthesized) -> None:
    # Root-relative: the page and the media share the distribution, and the API stack needs no
    # reference to it (which would be a cycle).
    assert _media_base_urls(aws_app) == {"streams": "/hls", "vods": "/hls"}


def test_playback_urls_use_the_custom_domain(domain_app: Synthesized) -> None:
    assert _media_base_urls(domain_app) == {"streams": f"https://{DOMAIN}/hls", "vods": f"https://{DOMAIN}/hls"}


# --- context validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "context",
    [
        {CTX_DOMAIN_NAME: DOMAIN},  # no certificate
        {CTX_CERTIFICATE_ARN: CERTIFICATE},  # no domain
        {CTX_DOMAIN_NAME: DOMAIN, CTX_CERTIFICATE_ARN: CERTIFICATE.replace("us-east-1", "eu-west-1")},
        {CTX_DOMAIN_NAME: "https://live.example.com", CTX_CERTIFICATE_ARN: CERTIFICATE},
        {"mediaBaseUrl": "//evil.example/hls"},  # protocol-relative, not a path
    ],
)
def test_invalid_cdn_context_is_refused(context: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        InfraConfig.from_context(context.get)


def test_the_domain_is_case_insensitive() -> None:
    config = InfraConfig.from_context({CTX_DOMAIN_NAME: "Live.Example.COM", CTX_CERTIFICATE_ARN: CERTIFICATE}.get)
    assert config.domain_name == DOMAIN
    assert config.media_base_url == f"https://{DOMAIN}/hls"

"""The VOD media consumer (issue 14, item 4): fed `VodDeleted` by a rule on the bus, retried into a
dead-letter queue, allowed to list and delete only below the broadcasts prefix, and in AWS to
read the distribution id from SSM and invalidate that one distribution (a policy of the CDN stack)."""

import json
from collections.abc import Mapping
from typing import Any

from infra.constructs.cdn import distribution_id_parameter
from letslive.constants import ENV_CDN_DISTRIBUTION_PARAMETER, ENV_MEDIA_BUCKET
from tests.infra.conftest import Synthesized

HANDLER = "functions.vods.media.handler"


def _actions(statement: Mapping[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _consumer(app: Synthesized) -> tuple[str, Mapping[str, Any]]:
    functions = app.template("Api").find_resources("AWS::Lambda::Function")
    ((name, fn),) = [(n, f) for n, f in functions.items() if f["Properties"]["Handler"] == HANDLER]
    return name, fn


def _statements(app: Synthesized, unit: str, role: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    policies = app.template(unit).find_resources("AWS::IAM::Policy").values()
    return [
        s for p in policies if role in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_a_rule_feeds_vod_deleted_to_the_consumer_with_retries_and_a_dead_letter_queue(aws_app: Synthesized) -> None:
    template = aws_app.template("Api")
    name, fn = _consumer(aws_app)
    rules = [
        rule
        for rule in template.find_resources("AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("detail-type") == ["VodDeleted", "ClipDeleted"]
    ]
    (rule,) = rules
    assert rule["Properties"]["EventPattern"]["source"] == ["letslive"]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [name, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert "DeadLetterConfig" in target
    configs = [
        c
        for c in template.find_resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": name}
    ]
    (config,) = configs
    assert "OnFailure" in config["Properties"]["DestinationConfig"]
    assert fn["Properties"]["Timeout"] == 300


def test_the_consumer_may_delete_only_below_the_broadcasts_and_clips_prefixes(aws_app: Synthesized) -> None:
    _, fn = _consumer(aws_app)
    statements = _statements(aws_app, "Api", {"Ref": fn["Properties"]["Role"]["Fn::GetAtt"][0]})
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
    assert sorted(a for s in s3 for a in _actions(s)) == ["s3:DeleteObject", "s3:ListBucket"]
    (delete,) = [s for s in s3 if _actions(s) == ["s3:DeleteObject"]]
    assert [r["Fn::Join"][1][-1] for r in delete["Resource"]] == ["/hls/broadcasts/*", "/hls/clips/*"]
    (listing,) = [s for s in s3 if _actions(s) == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["hls/broadcasts/*", "hls/clips/*"]}}
    assert "/" not in json.dumps(listing["Resource"])  # the bucket itself, no object wildcard
    # No table, no bus, no CloudFront in its own stack's policy.
    assert not [a for s in statements for a in _actions(s) if a.split(":")[0] in ("dynamodb", "events", "cloudfront")]
    variables = fn["Properties"]["Environment"]["Variables"]
    assert ENV_MEDIA_BUCKET in variables
    assert variables[ENV_CDN_DISTRIBUTION_PARAMETER] == distribution_id_parameter("prod")
    (ssm,) = [s for s in statements if any(a.startswith("ssm:") for a in _actions(s))]
    assert _actions(ssm) == ["ssm:GetParameter"]
    assert json.dumps(ssm["Resource"]).endswith(':parameter/letslive/prod/cdn/distribution-id"]]}')


def test_the_cdn_stack_publishes_the_distribution_id_and_lets_the_consumer_invalidate_it_only(
    aws_app: Synthesized,
) -> None:
    cdn = aws_app.template("Cdn")
    (distribution,) = cdn.find_resources("AWS::CloudFront::Distribution")
    (parameter,) = cdn.find_resources("AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Name"] == distribution_id_parameter("prod")
    assert parameter["Properties"]["Value"] == {"Ref": distribution}
    # (The web deployment's own role invalidates the web app's paths after an upload.)
    invalidating = [
        p
        for p in cdn.find_resources("AWS::IAM::Policy").values()
        if "cloudfront:CreateInvalidation" in json.dumps(p["Properties"]["PolicyDocument"])
        and "VodMedia" in json.dumps(p["Properties"]["Roles"])
    ]
    (policy,) = invalidating
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert _actions(statement) == ["cloudfront:CreateInvalidation"]
    resource = json.dumps(statement["Resource"])
    assert f'{{"Ref": "{distribution}"}}' in resource
    assert ":distribution/" in resource
    assert "*" not in resource
    # Attached to the consumer's role, which the API stack exports by name (no reference back).
    (role,) = policy["Properties"]["Roles"]
    assert "Fn::ImportValue" in role
    _, fn = _consumer(aws_app)
    assert "VodMedia" in fn["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "VodMedia" in json.dumps(role)


def test_locally_there_is_no_cdn_to_invalidate(local_app: Synthesized) -> None:
    _, fn = _consumer(local_app)
    assert ENV_CDN_DISTRIBUTION_PARAMETER not in fn["Properties"]["Environment"]["Variables"]
    statements = _statements(local_app, "Api", {"Ref": fn["Properties"]["Role"]["Fn::GetAtt"][0]})
    assert not [a for s in statements for a in _actions(s) if a.startswith(("ssm:", "cloudfront:"))]

"""cdk-nag's AwsSolutions pack over the whole app (AWS and local shape), and what it is told to accept.

cdk-nag 3 checks the construct tree as a policy-validation plugin; `make synth`, CI and deploys run
it as a gate (context `nag=true`). Here it runs on the session's synthesized apps so that every
unacknowledged finding is listed at once, by stack.
"""

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from infra.app import build_app
from infra.constants import CTX_NAG
from infra.nag import acknowledge, add_audit_trail, checks, enforce
from tests.infra.conftest import Synthesized

RULE_ID = re.compile(r"^AwsSolutions-[A-Z]+\d+(\[.+\])?$")
# A reason says why, in a sentence: long enough, capitalized, full stop.
REASON = re.compile(r"^[A-Z].{19,}\.$", re.DOTALL)


def _findings(app: App) -> dict[str, list[str]]:
    """Unacknowledged findings (errors and warnings) by stack name."""
    by_stack: dict[str, list[str]] = defaultdict(list)
    for violation in checks().validate_scope(app).violations:
        for resource in violation.violating_resources:
            stack, _, path = (resource.construct_path or "?").partition("/")
            by_stack[stack].append(f"  {violation.severity} {violation.rule_name} at {path}: {violation.description}")
    return by_stack


def _acknowledgments(template: Path) -> list[tuple[str, str, str]]:
    """(logical id, rule, reason) of the cdk-nag rules acknowledged in a template, from the `cdk_nag`
    metadata the audit-trail aspect writes (CDK's own acknowledged rules, e.g.
    `CloudFormation-Validate::W3045`, are written there too and are left out)."""
    resources: dict[str, Any] = json.loads(template.read_text())["Resources"]
    return [
        (logical_id, rule["id"], rule["reason"])
        for logical_id, resource in resources.items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        if rule["id"].startswith("AwsSolutions")
    ]


@pytest.mark.parametrize("variant", ["aws_app", "local_app"])
def test_no_unacknowledged_findings(variant: str, request: pytest.FixtureRequest) -> None:
    app: Synthesized = request.getfixturevalue(variant)
    findings = _findings(app.app)
    report = "\n".join(f"{stack}:\n" + "\n".join(lines) for stack, lines in sorted(findings.items()))
    assert not findings, f"fix these, or acknowledge them with infra.nag.acknowledge and a reason:\n{report}"


@pytest.mark.parametrize("variant", ["aws_app", "local_app"])
def test_every_acknowledgment_is_a_precise_rule_with_a_reason(variant: str, request: pytest.FixtureRequest) -> None:
    app: Synthesized = request.getfixturevalue(variant)
    acknowledged = [ack for template in app.template_files() for ack in _acknowledgments(template)]
    assert acknowledged, "no acknowledgment reached the templates' metadata"
    for logical_id, rule, reason in acknowledged:
        assert RULE_ID.match(rule), (logical_id, rule)
        assert REASON.match(reason), (logical_id, rule, reason)
    # Wildcards are accepted one finding at a time, never as a whole rule.
    assert not {rule for _, rule, _ in acknowledged} & {"AwsSolutions-IAM4", "AwsSolutions-IAM5"}


def _bucket_app(tmp_path: Path, *, acknowledged: bool) -> App:
    app = App(outdir=str(tmp_path))
    bucket = s3.Bucket(Stack(app, "Canary"), "Bucket")
    if acknowledged:
        for rule in ("AwsSolutions-S1", "AwsSolutions-S10"):
            acknowledge(bucket, rule, "A canary bucket that only exists inside this test.")
    add_audit_trail(app)
    enforce(app)
    return app


def test_the_gate_fails_a_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-S1"):
        _bucket_app(tmp_path, acknowledged=False).synth()


def test_the_gate_passes_what_is_acknowledged_and_records_why(tmp_path: Path) -> None:
    _bucket_app(tmp_path, acknowledged=True).synth()
    acknowledged = {rule for _, rule, _ in _acknowledgments(tmp_path / "Canary.template.json")}
    assert acknowledged == {"AwsSolutions-S1", "AwsSolutions-S10"}


def test_the_app_passes_the_gate_in_a_known_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `cdk synth` / `cdk deploy` with `nag=true` run: the CLI always knows the region (and,
    with credentials, the account), so findings on ARNs name them instead of `<AWS::Region>`."""
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    build_app(App(context={CTX_NAG: "true"}, outdir=str(tmp_path))).synth()

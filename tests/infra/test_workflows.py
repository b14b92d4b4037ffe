"""The GitHub Actions workflows: CI runs every check, deploys use OIDC and the cdk-nag gate."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with cfn-lint, without stubs

from infra import constants

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
# Context keys that are not production settings: the local shape, and overrides that the stacks
# fill in themselves in AWS.
NOT_DEPLOY_SETTINGS = {
    constants.CTX_LOCAL,
    constants.CTX_LAMBDA_PYTHON,
    constants.CTX_MEDIA_BASE_URL,
    constants.CTX_INGEST_URL,
    constants.CTX_NAG,  # always on, passed on its own
}


def _load(name: str) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as a boolean.
    return {("on" if key is True else key): value for key, value in loaded.items()}


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _uses(job: dict[str, Any], action: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [s for s in job["steps"] if s.get("uses", "").startswith(f"{action}@")]
    (step,) = steps
    return step


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return _load("ci.yml")


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return _load("deploy.yml")


def test_ci_runs_every_check_and_the_nag_gate_on_pull_requests_and_pushes(ci: dict[str, Any]) -> None:
    assert {"pull_request", "push", "workflow_call"} <= set(ci["on"])
    assert ci["permissions"] == {"contents": "read"}
    (job,) = ci["jobs"].values()
    runs = _runs(job)
    assert re.search(r"^make test\b", runs, re.MULTILINE)
    assert re.search(r"^npx cdk synth --all .*-c nag=true", runs, re.MULTILINE)
    assert "3.12" in job["container"]
    assert _uses(job, "actions/setup-node")["with"]["node-version"] == 20


def test_deploy_runs_after_ci_on_main_with_oidc_credentials_only(deploy: dict[str, Any]) -> None:
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in deploy["on"]
    assert deploy["permissions"] == {"id-token": "write", "contents": "read"}
    assert deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "ci"
    assert job["environment"] == "production"
    credentials = _uses(job, "aws-actions/configure-aws-credentials")
    assert credentials["uses"].endswith("@v4")
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert credentials["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    # No long-lived keys anywhere.
    text = (WORKFLOWS / "deploy.yml").read_text()
    for leak in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "secrets."):
        assert leak not in text


def test_deploy_passes_the_gate_and_every_production_context_key(deploy: dict[str, Any]) -> None:
    job = deploy["jobs"]["deploy"]
    runs = _runs(job)
    assert "npx cdk deploy" in runs
    assert re.search(r"--all --require-approval never -c nag=true", runs)
    (step,) = [s for s in job["steps"] if "CONTEXT" in s.get("env", {})]
    lines = [line.partition("=") for line in step["env"]["CONTEXT"].splitlines() if line]
    keys = {key for key, _, _ in lines}
    context_keys = {value for name, value in vars(constants).items() if name.startswith("CTX_")}
    assert keys == context_keys - NOT_DEPLOY_SETTINGS
    assert all(re.fullmatch(r"\$\{\{ vars\.[A-Z_]+ \}\}", value) for _, _, value in lines)

"""Synthesize the CDK app once per session (jsii warm-up and bundling are the slow part)."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.constants import stack_name


@dataclass
class Synthesized:
    app: App
    outdir: Path
    stage: str

    def stack(self, unit: str) -> Stack:
        found = self.app.node.find_child(stack_name(self.stage, unit))
        assert isinstance(found, Stack)
        return found

    def template(self, unit: str) -> Template:
        return Template.from_stack(self.stack(unit))

    def template_files(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


def _synth(tmp_path_factory: pytest.TempPathFactory, context: dict[str, str], stage: str) -> Synthesized:
    outdir = tmp_path_factory.mktemp(f"cdk-{stage}")
    app = build_app(App(context=context, outdir=str(outdir)))
    app.synth()
    return Synthesized(app, outdir, stage)


@pytest.fixture(scope="session")
def aws_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default, AWS-shaped app."""
    return _synth(tmp_path_factory, {}, "prod")


@pytest.fixture(scope="session")
def local_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app as `make dev` deploys it to the emulator."""
    return _synth(tmp_path_factory, {"local": "true"}, "local")

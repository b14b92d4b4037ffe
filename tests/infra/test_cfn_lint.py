import subprocess
import sys

import pytest

from tests.infra.conftest import Synthesized


@pytest.mark.parametrize("variant", ["aws_app", "local_app"])
def test_every_template_passes_cfn_lint(variant: str, request: pytest.FixtureRequest) -> None:
    app: Synthesized = request.getfixturevalue(variant)
    templates = app.template_files()
    assert len(templates) >= 2
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "parseable", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    # cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    assert result.returncode & 2 == 0, result.stdout + result.stderr
    assert result.returncode & 4 == 0, result.stdout + result.stderr

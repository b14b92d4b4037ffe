"""The cold-start fixes for FastAPI (`functions.common.compat`, issue 15): they defer work, never
change what the app answers. FastAPI is imported once per process, so what a Lambda's first event
does is checked in a fresh interpreter, the way a sandbox starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from functions.common import compat

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs in the child: the streams handler's first event, then what it left built and imported.
FIRST_EVENT = """
import json, sys
from functions.common.entry import priming_event
from functions.streams.handler import entry
from letslive.constants import Service
from letslive.models.streams import LivePage

class Context:
    function_name = "test"
    aws_request_id = "test"

status = entry.asgi()(priming_event(Service.STREAMS), Context())["statusCode"]
from fastapi.openapi.models import OpenAPI
report = {
    "status": status,
    "openapi_models_built": OpenAPI.__pydantic_complete__,
    "service_models_built": LivePage.__pydantic_complete__,
    "pydantic_v1_imported": "pydantic.v1" in sys.modules,
}
app = entry.asgi().app
document = app.openapi()
report["paths"] = sorted(document["paths"])
report["openapi_models_built_after_document"] = OpenAPI.__pydantic_complete__
print(json.dumps(report))
"""


def first_event() -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_EVENT], env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_a_first_event_defers_fastapis_own_models_and_builds_the_services() -> None:
    report = first_event()

    assert report["status"] == 404
    assert report["openapi_models_built"] is False
    assert report["service_models_built"] is True
    assert report["pydantic_v1_imported"] is False
    # The document still comes out whole: the deferred models build on this first use.
    assert report["openapi_models_built_after_document"] is True
    assert "/streams/live" in report["paths"]  # type: ignore[operator]


def test_models_made_inside_the_deferral_build_on_first_use_and_later_ones_at_once() -> None:
    with compat.deferred_model_builds() as deferring:

        class Deferred(BaseModel):
            name: str

    class Eager(BaseModel):
        name: str

    assert deferring is True
    assert Deferred.__pydantic_complete__ is False
    assert Eager.__pydantic_complete__ is True
    assert Deferred(name="x").name == "x"  # validates as always
    assert Deferred.__pydantic_complete__ is True


def test_the_default_is_restored_when_the_import_fails() -> None:
    from pydantic._internal._config import config_defaults

    try:
        with compat.deferred_model_builds():
            raise RuntimeError("the import failed")
    except RuntimeError:
        pass
    assert config_defaults["defer_build"] is False


def test_fastapi_imported_already_is_left_as_it_is() -> None:
    import fastapi

    assert fastapi
    assert compat.import_fastapi() is False

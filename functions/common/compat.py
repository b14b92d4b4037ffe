"""Cold-start fixes for FastAPI: build less on the first event, change nothing it answers.

- `import_fastapi`: FastAPI defines about sixty pydantic models at import (the OpenAPI document's
  own models, the validation-error models of its documentation), and pydantic builds each one's
  validator and serializer as the class is made: about a sixth of a first event here. They are
  used only when the OpenAPI document is generated, so they are imported with pydantic's
  `defer_build`, which builds a model on its first use instead. The default is pydantic's own
  (`pydantic._internal._config.config_defaults`, not public), so where it is missing nothing is
  deferred; it is restored as soon as FastAPI is imported: the services' models build as before.
- `skip_pydantic_v1_import`: FastAPI asks of every route's parameter and response types whether
  they are pydantic v1 models (to refuse them: it supports v2 only) and imports `pydantic.v1` to
  ask, about a tenth of a first event. The answer can only be yes once something has imported
  `pydantic.v1` (a v1 model cannot exist before its module does), and nothing in these services
  does: until then the probe answers no without the import; from then on FastAPI's own check
  runs. Where FastAPI has no such probe (another version), nothing is changed.
"""

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PYDANTIC_V1 = "pydantic.v1"
FASTAPI = "fastapi"

_probe: Callable[[Any], bool] | None = None


def skip_pydantic_v1_import() -> bool:
    """Install the lazy probe (idempotent); False when this FastAPI has no probe to replace."""
    global _probe
    try:
        from fastapi._compat import shared
    except ImportError:
        return False
    probe = getattr(shared, "is_pydantic_v1_model_class", None)
    if probe is None:
        return False
    if _probe is None:
        _probe = probe

        def is_pydantic_v1_model_class(cls: Any) -> bool:
            return PYDANTIC_V1 in sys.modules and probe(cls)

        shared.is_pydantic_v1_model_class = is_pydantic_v1_model_class
    return True


@contextmanager
def deferred_model_builds() -> Iterator[bool]:
    """pydantic models defined inside build on first use; yields False where it cannot defer."""
    try:
        from pydantic._internal._config import config_defaults
    except ImportError:
        yield False
        return
    if "defer_build" not in config_defaults:
        yield False
        return
    previous = config_defaults["defer_build"]
    config_defaults["defer_build"] = True
    try:
        yield True
    finally:
        config_defaults["defer_build"] = previous


def import_fastapi() -> bool:
    """Import FastAPI with its own models deferred; False when it was already imported."""
    if FASTAPI in sys.modules:
        return False
    with deferred_model_builds():
        importlib.import_module(FASTAPI)
    return True

"""A cold-start fix for FastAPI: answer its pydantic v1 probe without importing `pydantic.v1`.

FastAPI asks of every route's parameter and response types whether they are pydantic v1 models
(to refuse them: it supports v2 only) and imports `pydantic.v1` to ask, which is about a tenth
of the first event's work here. The answer can only be yes once something has imported
`pydantic.v1` (a v1 model cannot exist before its module does), and nothing in these services
does: until then the probe answers no without the import; from then on FastAPI's own check runs.
Where FastAPI has no such probe (another version), nothing is changed.
"""

import sys
from collections.abc import Callable
from typing import Any

PYDANTIC_V1 = "pydantic.v1"

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

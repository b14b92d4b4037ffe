"""One OpenAPI document for every HTTP service: `make openapi` writes it to `openapi.json`.

Each service is its own FastAPI app (its own Lambda); this merges their documents. Two
services may share a schema name only when the schemas are identical.
"""

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from letslive import __version__
from letslive.constants import Service

DOCUMENT = Path(__file__).resolve().parent.parent / "openapi.json"


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for service in Service:
        app = importlib.import_module(f"functions.{service.value}.app").create_app()
        spec = app.openapi()
        for path, item in spec.get("paths", {}).items():
            if path in paths:
                raise ValueError(f"{path} is served by two services")
            paths[path] = item
        for name, schema in spec.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"schema {name} differs between services")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Let's Live API", "version": __version__},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One OpenAPI document for every HTTP service: `make openapi` writes it to `openapi.json`.

Each service is its own FastAPI app (its own Lambda); this merges their documents. Two
services may share a schema (or security scheme) name only when they are identical. The links
between operations of different services (sign-up → log in → profile, follow, VODs...) are
declared here, where the whole document is: clients and the stateful contract test follow them.
"""

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from letslive import __version__
from letslive.constants import Service

DOCUMENT = Path(__file__).resolve().parent.parent / "openapi.json"

SIGNUP = ("/auth/signup", "post", "201")
# (path, method, status) → the links of that response: name → (operationId, parameters, body).
Link = tuple[str, dict[str, str], dict[str, Any] | None]
LINKS: dict[tuple[str, str, str], dict[str, Link]] = {
    SIGNUP: {
        "LogIn": (
            "login_auth_login_post",
            {},
            {"username": "$request.body#/username", "password": "$request.body#/password"},
        ),
        "GetProfile": ("get_profile_users__username__get", {"username": "$response.body#/username"}, None),
        "Follow": ("follow_users__username__follow_put", {"username": "$response.body#/username"}, None),
        "GetFollowers": ("followers_users__username__followers_get", {"username": "$response.body#/username"}, None),
        "GetChannel": ("get_channel_streams__username__get", {"username": "$response.body#/username"}, None),
        "ListVods": ("list_vods_vods_get", {"channel": "$response.body#/username"}, None),
    },
    ("/auth/login", "post", "200"): {
        "WhoAmI": ("me_auth_me_get", {}, None),
        "CreateStreamKey": ("create_key_streams_me_key_post", {}, None),
    },
    ("/streams/me/key", "post", "201"): {
        "GetMyChannel": ("get_me_streams_me_get", {}, None),
    },
    ("/users/{username}/follow", "put", "200"): {
        "GetFollowers": ("followers_users__username__followers_get", {"username": "$request.path.username"}, None),
        "Unfollow": ("unfollow_users__username__follow_delete", {"username": "$request.path.username"}, None),
    },
    ("/streams/live", "get", "200"): {
        "GetChannel": ("get_channel_streams__username__get", {"username": "$response.body#/items/0/username"}, None),
    },
    ("/vods", "get", "200"): {
        "GetVod": ("get_vod_vods__vod_id__get", {"vod_id": "$response.body#/items/0/vod_id"}, None),
        "DeleteVod": ("delete_vod_vods__vod_id__delete", {"vod_id": "$response.body#/items/0/vod_id"}, None),
        "GetVodChat": ("vod_chat_vods__vod_id__chat_get", {"vod_id": "$response.body#/items/0/vod_id"}, None),
    },
}


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    schemes: dict[str, Any] = {}
    for service in Service:
        app = importlib.import_module(f"functions.{service.value}.app").create_app()
        spec = app.openapi()
        for path, item in spec.get("paths", {}).items():
            if path in paths:
                raise ValueError(f"{path} is served by two services")
            paths[path] = item
        components = spec.get("components", {})
        for kind, merged in (("schemas", schemas), ("securitySchemes", schemes)):
            for name, schema in components.get(kind, {}).items():
                if merged.setdefault(name, schema) != schema:
                    raise ValueError(f"{kind} {name} differs between services")
    _add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Let's Live API", "version": __version__},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": dict(sorted(schemes.items()))},
    }


def _add_links(paths: dict[str, Any]) -> None:
    operation_ids = {op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op}
    for (path, method, status), links in LINKS.items():
        response = paths[path][method]["responses"][status]
        for name, (operation_id, parameters, body) in links.items():
            if operation_id not in operation_ids:
                raise ValueError(f"link {name} of {method.upper()} {path} names no operation: {operation_id}")
            link: dict[str, Any] = {"operationId": operation_id}
            if parameters:
                link["parameters"] = parameters
            if body is not None:
                link["requestBody"] = body
            response.setdefault("links", {})[name] = link


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

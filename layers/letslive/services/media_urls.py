"""Where media objects are, as the API names them: a path relative to the media prefix, and its
public URL under the CDN's base URL."""

import re
from typing import Final

from letslive.constants import MEDIA_PREFIX
from letslive.errors import InvalidInput

_MEDIA_PATH_RE: Final = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def media_path(path: str) -> str:
    """A media object path relative to the media prefix, validated.

    A full bucket key (`hls/broadcasts/...`) is accepted and stored without the prefix, so that
    URLs are `media_base_url + "/" + path` whichever the worker passes.
    """
    path = path.removeprefix(f"{MEDIA_PREFIX}/")
    if not _MEDIA_PATH_RE.fullmatch(path) or any(part in (".", "..") for part in path.split("/")):
        raise InvalidInput(f"not a media path: {path!r}")
    return path


def media_url(base_url: str | None, path: str) -> str:
    """The public URL of a media path: under `base_url`, or the path itself when there is none."""
    return f"{base_url.rstrip('/')}/{path}" if base_url else path

"""JSON Schema fragments that state, in the OpenAPI document, the rules the validators enforce.

A client generated from the document then refuses what the API refuses. Patterns are
ECMA-262 as JSON Schema requires; the only look-around is the reserved-names look-ahead.
"""

import re
from collections.abc import Iterable
from typing import Any, Final

from letslive.models import handles, text

HANDLE_SCHEMA: Final[dict[str, Any]] = {
    "pattern": f"^{handles.HANDLE_PATTERN}$",
    "description": "a handle: 3-25 letters, digits or underscores, case-insensitive",
}

# Pagination cursors: opaque url-safe base64 of at most this many characters
# (`letslive.services.pagination`).
CURSOR_MAX_LENGTH: Final = 300
CURSOR_SCHEMA: Final[dict[str, Any]] = {
    "pattern": rf"^[A-Za-z0-9_-]{{0,{CURSOR_MAX_LENGTH}}}$",
    "description": (
        "`next_cursor` of the previous page, as it was returned; empty or absent: the first page. "
        "Opaque: any other value is refused (400 `invalid-cursor`)."
    ),
}

# What the text validators refuse (`letslive.models.text`; lone surrogates cannot occur in
# valid JSON text, so the patterns need not name them).
_LINE_FORBIDDEN: Final = text.LINE_FORBIDDEN_CLASS
_TEXT_FORBIDDEN: Final = text.TEXT_FORBIDDEN_CLASS


def line_schema(maximum: int, *, blank: bool, nullable: bool = False, description: str = "") -> dict[str, Any]:
    """One line of text of at most `maximum` characters; `blank`: may be empty or all spaces."""
    if blank:
        pattern = rf"^[^{_LINE_FORBIDDEN}]*$"
    else:  # at least one character that is neither a space nor forbidden
        pattern = rf"^[^{_LINE_FORBIDDEN}]*[^\s{_LINE_FORBIDDEN}][^{_LINE_FORBIDDEN}]*$"
    schema: dict[str, Any] = {"type": "string", "maxLength": maximum, "pattern": pattern}
    if not blank:
        schema["minLength"] = 1
    return _finish(schema, nullable, description)


def text_schema(maximum: int, description: str = "") -> dict[str, Any]:
    """Text of at most `maximum` characters; line breaks allowed, other controls not."""
    return _finish({"type": "string", "maxLength": maximum, "pattern": rf"^[^{_TEXT_FORBIDDEN}]*$"}, False, description)


# An https URL as the avatar validator accepts it and stores it unchanged in length: a DNS
# host (its last label starts with a letter, so it is never read as an IPv4 address), an
# optional port, a path, an optional query; only characters that URL parsing leaves as they are.
_URL_CHAR: Final = r"(?:[A-Za-z0-9._~!$&()*+,;=:@-]|%[0-9A-Fa-f]{2})"
HTTPS_URL_PATTERN: Final = (
    r"^https://(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(?::[0-9]{1,4})?"
    rf"(?:/{_URL_CHAR}*)+(?:\?(?:{_URL_CHAR}|[/?])*)?$"
)


def https_url_schema(maximum: int, *, nullable: bool, description: str = "") -> dict[str, Any]:
    return _finish({"type": "string", "maxLength": maximum, "pattern": HTTPS_URL_PATTERN}, nullable, description)


def _finish(schema: dict[str, Any], nullable: bool, description: str) -> dict[str, Any]:
    if nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if description:
        schema["description"] = description
    return schema


def omit_defaults(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of a patch body: an absent field is left unchanged, it has no default."""
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


def _any_case(names: Iterable[str]) -> str:
    # JSON Schema patterns have no flags: each letter in both cases.
    return "|".join(
        "".join(f"[{ch.upper()}{ch}]" if ch.isalpha() else re.escape(ch) for ch in n) for n in sorted(names)
    )


def handle_pattern_excluding(names: Iterable[str]) -> str:
    """The handle rule less `names`, in any case (a negative look-ahead)."""
    return rf"^(?!(?:{_any_case(names)})$){handles.HANDLE_PATTERN}$"


def email_pattern_excluding(domains: Iterable[str]) -> str:
    """An address whose domain is none of `domains` nor under one (special-use names, which
    the address validator refuses); the rest of the syntax is the `email` format."""
    return rf"^(?![^@]*@(?:[^@]*\.)?(?:{_any_case(domains)})$)[^@\s]+@[^@\s]+$"

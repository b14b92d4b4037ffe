"""The one set of characters that user text may not carry, for every text field (profiles,
channel titles, chat) and the request schemas that state it.

- Controls (Cc: NUL, ESC, DEL, C1) and lone surrogates (Cs, which JSON can smuggle in as
  "\\ud800" and which cannot be stored as UTF-8).
- U+FFFD: what a gateway puts where a body was not UTF-8 (API Gateway hands JSON bodies over
  as decoded text), so its presence means the client's bytes were lost.
- In one line of text, also the bidi overrides/isolates and the line/paragraph separators,
  which let a name or a title spoof or reflow the text around it.
"""

import unicodedata
from typing import Final

REPLACEMENT_CHARACTER: Final = "\ufffd"
# LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI; LINE SEPARATOR, PARAGRAPH SEPARATOR.
SPOOFING: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")
# The direction marks (LRM, RLM, ALM): harmless in a name, but chat strips them with the rest.
DIRECTION_MARKS: Final = frozenset("\u200e\u200f\u061c")


def is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


def has_forbidden(value: str, *, line: bool, allowed: str = "") -> bool:
    """Whether `value` holds a character a text field refuses (`line`: one line of text)."""
    return any(
        ch not in allowed and (is_control(ch) or ch == REPLACEMENT_CHARACTER or (line and ch in SPOOFING))
        for ch in value
    )


def clean_line(value: str, what: str, minimum: int, maximum: int) -> str:
    """One line of text, NFC and trimmed, of `minimum` to `maximum` characters; `ValueError`."""
    if has_forbidden(value, line=True):
        raise ValueError(f"the {what} must not contain control characters")
    # The maximum holds as sent too: it is the request schema's `maxLength`.
    if len(value) > maximum:
        raise ValueError(f"the {what} must be {minimum} to {maximum} characters")
    value = unicodedata.normalize("NFC", value.strip())
    if not minimum <= len(value) <= maximum:
        raise ValueError(f"the {what} must be {minimum} to {maximum} characters")
    return value


def _escaped(chars: frozenset[str]) -> str:
    return "".join(f"\\u{ord(ch):04x}" for ch in sorted(chars))


# The same sets as JSON Schema (ECMA-262) character-class contents, for `letslive.models.schema`.
_CONTROLS: Final = r"\u0000-\u001f\u007f-\u009f"
LINE_FORBIDDEN_CLASS: Final = _CONTROLS + _escaped(SPOOFING | {REPLACEMENT_CHARACTER})
# A multi-line text keeps its line breaks (LF, CR: the bio normalizes CRLF to LF).
TEXT_FORBIDDEN_CLASS: Final = r"\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f" + _escaped(
    frozenset({REPLACEMENT_CHARACTER})
)

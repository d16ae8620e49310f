"""What makes the report safe to open with hostile traces inside: the JSON that goes into
`<script type="application/json">`, the Content-Security-Policy built from hashes, and the checks
that trusted assets (plotly.js, our JS and CSS) cannot end their own element early.

Trace data never reaches the page as markup: the template escapes every value (autoescape), and data
for scripts is JSON in which `<`, `>`, `&`, U+2028 and U+2029 are written as `\\uXXXX` escapes, so no
`</script>` or `<!--` can appear in it. The page's one script and one style element are allowed by
their sha256; nothing else runs, loads or connects (`default-src 'none'`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import msgspec

# Bytes that could end or change the meaning of a <script> element, as JSON \u escapes. None of
# them can occur outside a JSON string, and inside one the escape means the same character.
_ESCAPES = ((b"&", b"\\u0026"), (b"<", b"\\u003c"), (b">", b"\\u003e"),
            ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))

# plotly.js adds its CSS rules through CSSOM into an empty <style> element (and sets an empty
# style attribute): the hash of the empty string allows exactly that, and nothing with content.
EMPTY_HASH = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
_END_TAG = re.compile(r"</(script|style)|<!--", re.IGNORECASE)


def script_json(data: Any) -> str:
    """`data` as JSON that is safe as the text of a `<script type="application/json">` element.

    NaN and infinities become null (JSON has neither); lone surrogates (possible in decoded traces)
    become U+FFFD."""
    try:
        raw = msgspec.json.encode(data)
    except UnicodeEncodeError:
        raw = msgspec.json.encode(_scrub(data))
    for char, escape in _ESCAPES:
        raw = raw.replace(char, escape)
    return raw.decode("utf-8")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def parse_script_json(text: str) -> Any:
    """The inverse of `script_json` (for tests and tools that read a report back)."""
    return json.loads(text)


def csp_hash(text: str) -> str:
    """The CSP source expression that allows an inline element whose text is `text`."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def inline_text(text: str, what: str) -> str:
    """Check that trusted text can sit inside its inline element unchanged, and normalise newlines
    as the HTML parser will (the hash must be of the text the browser sees)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        raise ValueError(f"{what} contains a NUL character and cannot be inlined")
    match = _END_TAG.search(text)
    if match:
        raise ValueError(f"{what} contains {match.group(0)!r} at offset {match.start()} and cannot be inlined")
    return text


def plotly_attribute_styles(plotly_js: str) -> list[str]:
    """The style attribute values plotly.js sets itself (the heatmap's pixelated image rendering),
    read from the bundle, so that exactly these may be allowed through 'unsafe-hashes'."""
    match = re.search(r"CSS_DECLARATIONS=(\[\[.*?\]\])", plotly_js)
    if not match:
        return []
    try:
        pairs = json.loads(match.group(1))
    except ValueError:
        return []
    return ["".join(": ".join(p) + "; " for p in pairs)]


def plotly_style_guards(plotly_js: str) -> list[str]:
    """Ids whose presence stops plotly.js's bundled map library from adding its stylesheet (which the
    policy would block, with a console error): the report draws no maps, so it needs none of it."""
    return re.findall(r'if\(!document\.getElementById\("([A-Za-z0-9_-]+)"\)\)\{var \w+=document\.createElement\("style"\)',
                      plotly_js)


def content_security_policy(script: str, styles: list[str], attribute_styles: list[str]) -> str:
    """The page's policy: its one script and the given styles by hash, images only from data: URLs."""
    style_src = [f"'{csp_hash(s)}'" for s in styles] + [f"'{EMPTY_HASH}'"]
    if attribute_styles:
        style_src += ["'unsafe-hashes'", *(f"'{csp_hash(s)}'" for s in attribute_styles)]
    return "; ".join([
        "default-src 'none'",
        f"script-src '{csp_hash(script)}'",
        "style-src " + " ".join(dict.fromkeys(style_src)),
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
    ])

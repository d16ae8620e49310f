"""Redaction of secrets (and optionally emails and phone numbers) from text made to be shared.

One redactor for everything Rubricate writes to be read by others: the HTML report, the guide JSONL,
load-issue reasons, console output, stored episodes under `score --redact`, and the text sent to a
judge model. A secret becomes `[REDACTED:<kind>]`.

The patterns are detect-secrets' (Yelp's maintained secret scanner): every regex-based plugin it has
(AWS, Azure storage, GitHub, GitLab, OpenAI, Slack, Stripe, Twilio, SendGrid, Mailchimp, npm, PyPI,
Discord, Telegram, Square, Artifactory, IBM, SoftLayer, Cloudant, JWT, private-key headers, and
passwords in URLs), read from its plugin classes, not copied. Added here for what it does not
cover: whole PEM private-key blocks, whole JWTs (its pattern stops before the signature), bearer
tokens, Anthropic, OpenAI project, Google, Hugging Face and generic `sk-` keys, and (with `pii`)
emails and phone numbers in international or North American form. When a pattern has groups, only
the groups are secret (a URL keeps its user and host, loses its password).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

__all__ = ["Redactor", "redact", "redact_text", "REDACTED"]

REDACTED = "[REDACTED:{kind}]"

# What detect-secrets' plugins leave out (kind, pattern). The first that matches a span wins.
_OWN: tuple[tuple[str, str], ...] = (
    ("private-key", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}={0,2}\.eyJ[A-Za-z0-9_-]{5,}={0,2}\.[A-Za-z0-9_-]*={0,2}"),
    ("bearer-token", r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/=-]{16,})"),
    ("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai-key", r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}"),
    ("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}"),
    ("aws-secret-key", r"(?i)aws_?secret_?(?:access_?)?key\W{0,5}([A-Za-z0-9/+]{40})\b"),
    ("password", r"(?i)\b(?:password|passwd|pwd)\s*[=:]\s*['\"]?([^\s'\"&,;]{6,})"),
)
_PII: tuple[tuple[str, str], ...] = (
    ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    ("phone", r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}"
              r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4})\b"),
)
_SKIPPED_PLUGINS = {"IPPublicDetector"}  # public IP addresses are not secrets
# Where a secret can be: every pattern above matches only text that holds one of these: a token of 16+
# characters with a digit or a capital (`_TOKEN`, `_MIXED`: the long secrets, also those after a keyword
# such as AWS, IBM, SoftLayer and Azure keys), or (`_MARKER`, on the lowercased text) a key prefix, the
# keyword of a pattern whose secret may be short or all lowercase (passwords, bearer tokens, Cloudant),
# '@', '://', a PEM or PuTTY header, the start of a phone number. The patterns run only on windows around them: prose and identifiers such as
# `list_of_films` cost two scans. (Two simple regexes are ~3x faster than one that holds both.)
_TOKEN = re.compile(r"(?<![\w+/=.:~-])[\w+/=.:~-]{16,}")
_MIXED = re.compile(r"[0-9A-Z]")
_MARKER_TEXT = (r"sk-|k_live_|hf_|gh[pousr]_|gl[a-z]{2,7}-|xox|eyj|\bap[0-9a-f][a-z0-9]{8,}|\bakc[a-z0-9]{10,}"
                r"|@|://|-----begin|putty|private key|_authtoken|passw|pwd|bearer|\btoken\s+[\w.~+/=-]{16}"
                r"|cl(?:oudant|ou)?[_-]?(?:api)?[_-]?(?:key|pwd|pw|pass|token)"  # Cloudant's [a-z]{24} keys
                r"|\+\d|\(\d{3}\)|\b\d{3}[.-]\d{3}[.-]\d{4}")
_MARKER = re.compile(_MARKER_TEXT)
_MARKER_ANY_CASE = re.compile(_MARKER_TEXT, re.IGNORECASE)  # when lowercasing changes the text's length
_WINDOW = 120  # characters of context kept on each side of a candidate (keyword patterns reach ~60 back)


@lru_cache(maxsize=1)
def _detect_secrets_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(kind, regex) of every regex-based detect-secrets plugin; empty when it is not installed."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:
        return ()
    found = []
    for secret_type, cls in sorted(get_mapping_from_secret_type_to_class().items()):
        if not issubclass(cls, RegexBasedDetector) or cls.__name__ in _SKIPPED_PLUGINS:
            continue
        kind = re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")
        found += [(kind, p) for p in cls.denylist]
    return tuple(found)


def pattern_source() -> str:
    """Which pattern sets the redactor uses (for docs and `--version`-style reports)."""
    return "detect-secrets + rubricate" if _detect_secrets_patterns() else "rubricate only (detect-secrets missing)"


class Redactor:
    """Replaces secrets in text with `[REDACTED:<kind>]`. `pii` also redacts emails and phone numbers;
    `extra` adds patterns of your own (kind `custom`; groups, if any, are the secret)."""

    def __init__(self, *, pii: bool = True, extra: Iterable[str | re.Pattern[str]] = ()) -> None:
        # (kind, regex, whether its groups are the secret): detect-secrets' groups are not always
        # the secret (GitHub's is the prefix), so its matches are replaced whole
        own = [(kind, re.compile(p), True) for kind, p in _OWN]
        theirs = [(kind, p, False) for kind, p in _detect_secrets_patterns()]
        custom = [("custom", p if isinstance(p, re.Pattern) else re.compile(p), True) for p in extra]
        pii_patterns = [(kind, re.compile(p), False) for kind, p in _PII] if pii else []
        self.patterns: list[tuple[str, re.Pattern[str], bool]] = [*own, *theirs, *custom, *pii_patterns]
        self.pii, self._custom = pii, bool(custom)

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(kind for kind, _, _ in self.patterns))

    def text(self, text: str) -> str:
        """`text` with every secret replaced."""
        if not text:
            return text
        if self._custom:  # patterns of unknown shape: run on the whole text
            return self._apply(text)
        if "PRIVATE KEY" in text:  # a PEM block is longer than a window
            text = self._apply(text)
        out, pos = [], 0
        for start, end in _windows(text):
            out += [text[pos:start], self._apply(text[start:end])]
            pos = end
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)

    def _apply(self, text: str) -> str:
        for kind, pattern, groups in self.patterns:
            text = pattern.sub(lambda m, k=kind, g=groups: _replace(m, k, g), text)  # type: ignore[misc]
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string redacted;
        other values are returned as they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        return value


def _windows(text: str) -> list[tuple[int, int]]:
    """Disjoint [start, end) ranges around the candidates, widened to whitespace (secrets hold none)."""
    spans = [m.span() for m in _TOKEN.finditer(text) if _MIXED.search(m.group())]
    low = text.lower()
    markers = _MARKER.finditer(low) if len(low) == len(text) else _MARKER_ANY_CASE.finditer(text)
    spans += [m.span() for m in markers]
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        start = _space_before(text, max(0, a - _WINDOW))
        end = _space_after(text, min(len(text), b + _WINDOW))
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _space_before(text: str, pos: int) -> int:
    """`pos` moved back to just after whitespace (at most another window)."""
    if pos == 0:
        return 0
    found = max(text.rfind(c, max(0, pos - _WINDOW), pos) for c in " \n\t")
    return found + 1 if found >= 0 else max(0, pos - _WINDOW)


def _space_after(text: str, pos: int) -> int:
    if pos >= len(text):
        return len(text)
    hits = [i for i in (text.find(c, pos, pos + _WINDOW) for c in " \n\t") if i >= 0]
    return min(hits) if hits else min(len(text), pos + _WINDOW)


def _replace(match: re.Match[str], kind: str, groups: bool) -> str:
    marker = REDACTED.format(kind=kind)
    spans = [match.span(g) for g in range(1, (match.re.groups or 0) + 1) if match.group(g)] if groups else []
    if not spans:
        return marker
    start, text, out = match.start(), match.group(0), []
    pos = 0
    for a, b in spans:
        out += [text[pos:a - start], marker]
        pos = b - start
    out.append(text[pos:])
    return "".join(out)


@lru_cache(maxsize=4)
def default_redactor(pii: bool = True) -> Redactor:
    return Redactor(pii=pii)


def redact_text(text: str, *, pii: bool = True) -> str:
    """`text` with secrets (and, with `pii`, emails and phone numbers) replaced."""
    return default_redactor(pii).text(text)


def redact(value: Any, *, pii: bool = True) -> Any:
    """A JSON-like value with every string redacted (see `Redactor.value`)."""
    return default_redactor(pii).value(value)

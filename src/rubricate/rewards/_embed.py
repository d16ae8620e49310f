"""Self-contained reward modules: the rubric's TOML and its checks' source inside the exported file.

`export_module_text(..., embed=True)` writes both into the module with their SHA-256; when a trainer
imports it, `embedded_target` checks every digest (a module edited by hand, or damaged in transfer, stops
with an error instead of rewarding with something else), imports the checks from a private temporary
folder, parses the rubric and checks its content hash against the one recorded at export (a different
rubricate version that reads the file differently is caught here), and builds the target's function.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any

from ..errors import RubricError
from ..rubrics import BUILTIN_ALIASES, builtin_rubric_text, load_checks_file, parse_rubric


_LOADED: set[str] = set()  # digests of the checks sources imported in this process


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rubric_source(ref: str) -> tuple[str, str]:
    """(file name, TOML text) of a rubric file or a built-in rubric name."""
    if os.path.isfile(ref):
        with open(ref, encoding="utf-8") as f:
            return os.path.basename(ref), f.read()
    return f"{BUILTIN_ALIASES.get(ref, ref)}.toml", builtin_rubric_text(ref)


def _verify(what: str, text: str, digest: str) -> None:
    if sha256(text) != digest:
        raise RubricError(f"embedded {what}: its SHA-256 does not match the one recorded at export; the module "
                          "was changed after `rubricate export-reward` wrote it",
                          hint="export the reward module again instead of editing it")


def embedded_target(target: str, rubric_name: str, rubric_toml: str, rubric_sha256: str, rubric_hash: str,
                    checks: dict[str, tuple[str, str]] | None = None, **options: Any) -> Any:
    """The target's function for a rubric embedded in an exported module (see the module docstring).
    `checks`: {file name: (source, SHA-256)}. `options` go to the target's factory."""
    from ._targets import export_target

    _verify(f"rubric {rubric_name}", rubric_toml, rubric_sha256)
    for name, (source, digest) in (checks or {}).items():
        _verify(f"checks file {name}", source, digest)
    with tempfile.TemporaryDirectory(prefix="rubricate-checks-") as folder:
        for name, (source, digest) in (checks or {}).items():
            if digest in _LOADED:
                continue  # the module imported again in this process: its checks are registered
            _LOADED.add(digest)
            path = os.path.join(folder, f"{digest[:16]}_{os.path.basename(name)}")
            with open(path, "w", encoding="utf-8") as f:
                f.write(source)
            load_checks_file(path)
    rubric = parse_rubric(rubric_toml, path=f"embedded:{rubric_name}")
    if rubric.hash != rubric_hash:
        raise RubricError(f"embedded rubric {rubric_name}: content hash {rubric.hash} here, {rubric_hash} at export",
                          hint="this rubricate version reads the rubric differently; export the module again "
                               "with it")
    return export_target(rubric, target, **options)


def embedded_body(ref: str, checks_files: tuple[str, ...], rubric_hash: str, target: str) -> tuple[str, str]:
    """(constants, call) of an embedded module: the rubric and checks as literals, and the build call."""
    name, toml = rubric_source(ref)
    checks: dict[str, tuple[str, str]] = {}
    for path in checks_files:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        checks[os.path.basename(path)] = (source, sha256(source))
    constants = ("from rubricate.rewards import embedded_target\n\n"
                 f"RUBRIC_NAME = {name!r}\n"
                 f"RUBRIC_SHA256 = {sha256(toml)!r}\n"
                 f"RUBRIC_HASH = {rubric_hash!r}\n"
                 f"RUBRIC_TOML = {toml!r}\n"
                 f"CHECKS = {checks!r}  # file name: (source, SHA-256)\n")
    call = f"embedded_target({target!r}, RUBRIC_NAME, RUBRIC_TOML, RUBRIC_SHA256, RUBRIC_HASH, CHECKS)"
    return constants, call

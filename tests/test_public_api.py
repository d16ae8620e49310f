"""The public surface: `__all__` sorted and importable, and imports kept cheap where it matters."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rubricate
import rubricate.analyzer


@pytest.mark.parametrize("module", [rubricate, rubricate.analyzer])
def test_all_is_sorted_and_every_name_resolves(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert list(names) == sorted(names, key=lambda n: (not n.isupper(), n))  # constants first, then A-Z, a-z
    for name in names:
        assert getattr(module, name) is not None
    assert set(names) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # type: ignore[attr-defined]  # noqa: B018


def _imported_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_import_rubricate_is_cheap() -> None:
    loaded = _imported_after("import rubricate")
    assert not {"polars", "duckdb", "pyarrow", "pydantic", "openai", "plotly"} & loaded


def test_a_scoring_worker_does_not_load_the_analysis_stack() -> None:
    """Workers import rubricate.scoring._workers; polars, DuckDB, plotly and jinja2 are for analysis
    and reports (start-up time of every worker)."""
    loaded = _imported_after("import rubricate.scoring._workers")
    assert not {"polars", "duckdb", "plotly", "jinja2"} & loaded

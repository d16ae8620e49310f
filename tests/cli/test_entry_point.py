"""The `rubricate` command's quick exit (`rubricate.cli.run`): it skips the interpreter's teardown, so
these run it as a process and check that nothing a normal exit does is lost: the whole output through
a pipe, the exit code, and the exit handlers a user's checks file registers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from rubricate.cli import EXIT_OK, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]
WIKI = ROOT / "examples" / "wiki-search" / "traces"


def _rubricate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rubricate", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env={**os.environ, "NO_COLOR": "1"})


def test_a_long_output_through_a_pipe_arrives_whole() -> None:
    done = _rubricate("rubrics", "show", "search-agent", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    shown = json.loads(done.stdout)  # a cut-off buffer would not parse
    assert len(done.stdout) > 4096 and {i["id"] for i in shown["items"]} >= {"searches_first", "answer_correct"}


def test_the_exit_code_of_a_failed_command_comes_through() -> None:
    done = _rubricate("score", str(WIKI), "--rubric", "no-such-rubric", "--out", "unused")
    assert done.returncode == EXIT_USAGE
    assert "error:" in done.stderr and "no-such-rubric" in done.stderr


def test_exit_handlers_of_a_checks_file_run(tmp_path: Path) -> None:
    marker = tmp_path / "exit-handler-ran"
    checks = tmp_path / "my_checks.py"
    checks.write_text(textwrap.dedent(f"""
        import atexit
        from rubricate.rubrics import check, passed

        atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))

        @check(behavior="custom")
        def always(ctx):
            return passed("fine")
    """))
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(textwrap.dedent("""
        id = "exit-test"
        version = "1.0.0"

        [[items]]
        id = "always"
        check = "always"
    """))
    done = _rubricate("score", str(WIKI), "--rubric", str(rubric), "--checks", str(checks), "--out",
                      str(tmp_path / "run"), "--workers", "1", "--no-progress", "--quiet")
    assert done.returncode == EXIT_OK, done.stderr
    assert marker.read_text() == "ran"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["counts"]["episodes"] > 0


def test_the_score_command_module_imports_light() -> None:
    """`rubricate score` starts counting lines ahead (rubricate.scoring.start_line_index) before it
    imports the scoring stack: its module must not import pyarrow, pydantic or the judge client."""
    code = ("import sys, rubricate.cli.score; "
            "print(sorted(m for m in ('pyarrow', 'pydantic', 'openai', 'rich', 'rubricate.rubrics') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_judge_without_judge_cache_uses_the_judges_default_cache() -> None:
    """The --judge-* options import no judge code (see above); the cache they give by default is
    rubricate.rubrics.judges' own."""
    import click

    from rubricate.cli._judge import judge_config, judge_options
    from rubricate.rubrics.judges import DEFAULT_CACHE_DIR

    @click.command()
    @judge_options
    def cmd(**options: object) -> None:
        config = judge_config(options)
        assert config is not None and config.cache_dir == DEFAULT_CACHE_DIR
        seen.append(config.model)

    seen: list[str] = []
    cmd.main(["--judge-model", "m"], standalone_mode=False)
    assert seen == ["m"]

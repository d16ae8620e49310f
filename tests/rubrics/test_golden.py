"""Hand-checked verdicts per shared corpus (tests/rubrics/golden/<corpus>.toml): every row's verdict
was decided by reading the episode, with a one-line justification. The built-in rubric the file
names must give each of them, except the known disagreements, where it must give exactly the
verdict the row records as `check` (so a change that fixes or breaks one shows here).

The agreement figures in docs/rubrics.md are these files' counts (`golden_agreement()` prints them).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rubricate import load_episodes, load_rubric
from rubricate.rubrics import Rubric, Verdict
from rubricate.traces import Episode

from _shared import CORPORA, need

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.toml"))
MIN_PER_ITEM = 30
VERDICTS = {"pass", "fail", "na"}


@cache
def golden(name: str) -> dict[str, Any]:
    with open(GOLDEN / f"{name}.toml", "rb") as f:
        return tomllib.load(f)


@cache
def corpus(name: str) -> dict[str, Episode]:
    return {e.id: e for e in load_episodes(need(CORPORA / name))}


@cache
def scored(name: str) -> dict[str, dict[str, Verdict]]:
    """The file's rubric on every episode the file names: episode id -> item -> verdict."""
    data = golden(name)
    rubric = load_rubric(data["rubric"])
    episodes = corpus(data["corpus"])
    return {row["id"]: {v.item: v for v in rubric.evaluate(episodes[row["id"]])} for row in data["episodes"]}


def rows(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(episode id, item, the hand-checked entry) of every verdict in the file."""
    return [(row["id"], item, entry) for row in golden(name)["episodes"] for item, entry in row.items()
            if item != "id"]


def golden_agreement(name: str) -> dict[str, tuple[int, int]]:
    """Per item: (rows where the check gives the hand verdict, rows)."""
    out: dict[str, list[int]] = {}
    for _, item, entry in rows(name):
        counts = out.setdefault(item, [0, 0])
        counts[0] += "check" not in entry
        counts[1] += 1
    return {item: (a, n) for item, (a, n) in out.items()}


NAMES = [f.stem for f in FILES]


def test_every_shared_corpus_with_episodes_has_a_golden_file():
    assert set(NAMES) >= {"tau-bench", "verifiers-wiki-search", "nemo-gym-rollouts", "inspect-logs",
                          "who-and-when", "mast-mad-human"}


@pytest.mark.parametrize("name", NAMES)
def test_golden_rows_are_well_formed(name: str) -> None:
    data = golden(name)
    rubric = load_rubric(data["rubric"])
    ids = [row["id"] for row in data["episodes"]]
    assert len(ids) == len(set(ids)), "an episode appears twice"
    for episode, item, entry in rows(name):
        where = f"{episode} {item}"
        assert item in {i.id for i in rubric.checks}, f"{where}: not a check item of {rubric.id}"
        assert entry["verdict"] in VERDICTS and entry.get("why", "").strip(), where
        assert set(entry) <= {"verdict", "why", "check", "disagrees"}, where
        if "check" in entry:  # a known disagreement says what the check gives and why it differs
            assert entry["check"] in VERDICTS and entry["check"] != entry["verdict"], where
            assert entry.get("disagrees", "").strip(), where


@pytest.mark.parametrize("name", NAMES)
def test_each_check_item_has_enough_golden_verdicts(name: str) -> None:
    data = golden(name)
    rubric = load_rubric(data["rubric"])
    episodes = corpus(data["corpus"])
    counts = Counter(item for _, item, _ in rows(name))
    want = min(MIN_PER_ITEM, len(episodes))
    short = {i.id: counts[i.id] for i in rubric.checks if counts[i.id] < want}
    assert not short, f"fewer than {want} hand-checked verdicts: {short}"


@pytest.mark.parametrize("name", NAMES)
def test_the_rubric_gives_the_hand_checked_verdicts(name: str) -> None:
    got = scored(name)
    wrong = []
    for episode, item, entry in rows(name):
        verdict = got[episode][item]
        expected = entry.get("check", entry["verdict"])
        if verdict.verdict != expected:
            wrong.append(f"{episode} {item}: {verdict.verdict} ({verdict.reason}); hand-checked {entry['verdict']}: "
                         f"{entry['why']}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", NAMES)
def test_no_check_item_is_na_in_every_golden_episode_of_its_corpus(name: str) -> None:
    """The preset fits its corpus: each check item decides (pass or fail) somewhere in the file,
    unless the file says why it cannot (`na_by_nature`: e.g. raw log text has no tool calls)."""
    data = golden(name)
    excused = set(data.get("na_by_nature", {}))
    decided = {item for _, item, entry in rows(name) if entry["verdict"] != "na"}
    rubric: Rubric = load_rubric(data["rubric"])
    assert {i.id for i in rubric.checks} - decided - excused == set()

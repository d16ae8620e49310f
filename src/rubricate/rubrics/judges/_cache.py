"""The judge cache: content-addressed answers in SQLite (`judge-cache.sqlite3` in the cache directory).

One row per (model, call parameters, prompt version, episode content hash, item spec hash, sample):
re-running a rubric makes no call, and changing one item asks the judge about that item alone.
Only valid answers are cached; errors are asked again next time. Several worker processes share the
file (WAL journal, busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

from ...errors import JudgeError
from ._parse import ItemAnswer
from ._prompt import PROMPT_VERSION

if TYPE_CHECKING:
    import sqlite3

CACHE_FILE = "judge-cache.sqlite3"
CACHE_FORMAT = 1


def cache_key(model: str, params: dict[str, Any], episode_hash: str, item_hash: str, sample: int = 0) -> str:
    data = json.dumps([CACHE_FORMAT, model, params, PROMPT_VERSION, episode_hash, item_hash, sample],
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


class JudgeCache:
    """get_many / put_many over an SQLite file; `JudgeCache(None)` caches nothing."""

    def __init__(self, directory: str | None) -> None:
        self.path = os.path.join(directory, CACHE_FILE) if directory else None
        self._db: sqlite3.Connection | None = None
        if self.path is None:
            return
        import sqlite3  # here: scoring without a judge never pays for it

        try:
            os.makedirs(directory, exist_ok=True)  # type: ignore[arg-type]
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._set_up(self._db, sqlite3.OperationalError)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise JudgeError(f"{self.path}: cannot open the judge cache: {exc}", path=self.path,
                             hint="pass a writable directory with --judge-cache DIR, or --no-judge-cache") from None

    @staticmethod
    def _set_up(db: sqlite3.Connection, busy: type[Exception], wait_s: float = 30.0) -> None:
        """WAL mode and the table. Workers open a new cache at the same moment, and switching the
        journal mode reports "database is locked" at once (SQLite's busy timeout does not cover it):
        retry that for up to `wait_s`."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, "
                           "reason TEXT NOT NULL, steps TEXT NOT NULL, model TEXT, created REAL)")
                return
            except busy as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def get_many(self, keys: list[str]) -> dict[str, ItemAnswer]:
        if self._db is None or not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(f"SELECT key, answer, reason, steps FROM answers WHERE key IN ({marks})", keys)
        return {k: ItemAnswer(a, r, tuple(json.loads(s))) for k, a, r, s in rows}

    def put_many(self, rows: list[tuple[str, ItemAnswer]], model: str) -> None:
        if self._db is None or not rows:
            return
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")  # one transaction for the batch
        try:
            self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                                 [(k, a.answer, a.reason, json.dumps(list(a.steps)), model, now) for k, a in rows])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class KeptCache:
    """The judge cache of a unit scored on a cluster, whose workers may not share one cache file: a
    lookup tries `seed` (the answers an earlier run kept for the same unit) before the cache, and
    every answer the unit used, found or new, is kept (`take_kept`) to be stored with the run."""

    def __init__(self, cache: JudgeCache, seed: dict[str, ItemAnswer] | None = None) -> None:
        self.cache, self.seed = cache, seed or {}
        self._kept: dict[str, ItemAnswer] = {}

    def get_many(self, keys: list[str]) -> dict[str, ItemAnswer]:
        found = {k: self.seed[k] for k in keys if k in self.seed}
        missing = [k for k in keys if k not in found]
        if missing:
            found.update(self.cache.get_many(missing))
        self._kept.update(found)
        return found

    def put_many(self, rows: list[tuple[str, ItemAnswer]], model: str) -> None:
        self.cache.put_many(rows, model)
        self._kept.update(rows)

    def take_kept(self) -> dict[str, ItemAnswer]:
        kept, self._kept = self._kept, {}
        return kept

    def close(self) -> None:
        self.cache.close()


def answer_columns(answers: dict[str, tuple[ItemAnswer, str]]) -> dict[str, list[Any]]:
    """Kept answers (key -> (answer, model)) as columns: key, answer, reason, steps, model."""
    cols: dict[str, list[Any]] = {"key": [], "answer": [], "reason": [], "steps": [], "model": []}
    for key, (a, model) in answers.items():
        cols["key"].append(key)
        cols["answer"].append(a.answer)
        cols["reason"].append(a.reason)
        cols["steps"].append(list(a.steps))
        cols["model"].append(model)
    return cols


def answers_from_columns(cols: dict[str, list[Any]]) -> dict[str, tuple[ItemAnswer, str]]:
    """The inverse of `answer_columns`."""
    return {k: (ItemAnswer(a, r, tuple(s or ())), m)
            for k, a, r, s, m in zip(cols["key"], cols["answer"], cols["reason"], cols["steps"], cols["model"])}

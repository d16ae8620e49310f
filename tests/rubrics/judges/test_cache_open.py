"""Scoring workers open one new judge cache at the same moment: every one of them must get it."""

from __future__ import annotations

import threading

from rubricate.rubrics.judges._cache import JudgeCache


def test_many_connections_open_a_new_cache_at_once(tmp_path) -> None:
    failures: list[Exception] = []
    for round_ in range(40):  # before the retry, about 1 open in 300 failed with "database is locked"
        directory = tmp_path / f"cache{round_}"
        start = threading.Barrier(8)

        def open_cache() -> None:
            start.wait()
            try:
                JudgeCache(str(directory)).close()
            except Exception as exc:  # noqa: BLE001  (collected and asserted below)
                failures.append(exc)

        threads = [threading.Thread(target=open_cache) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []

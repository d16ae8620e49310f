"""Judge robustness under faults: a scripted OpenAI-compatible server on loopback injects 429, 500,
timeouts, garbage 200s, empty choices, unparseable and incomplete replies at a total rate split evenly
over those kinds; the real `openai` client and the judge engine run a rubric with two judge items.

    python benchmarks/bench_judge_faults.py [--episodes 200] [--rates 0,0.05,0.2,0.5] [--retries 3]

For each rate: requests sent, what the server served, judge verdicts that ended as `error` (each
with its reason), verdicts lost (expected 0), verdicts that differ from the fault-free run although
not errors (expected 0), and wall time. Measures; never asserts.
"""

from __future__ import annotations

import argparse
import collections
import time

import rubricate
from rubricate.rubrics import parse_rubric
from rubricate.testing import FAULTS, ScriptedJudge, answer, call, episode, result, system, user

RUBRIC = parse_rubric('''
id = "faults"
version = "1"
[[items]]
id = "recovers_from_errors"
[[items]]
id = "noticed_errors"
kind = "judge"
question = "Did the agent notice failed tool calls?"
[[items]]
id = "grounding"
kind = "judge"
question = "How well does the answer follow from the data?"
choices = ["unsupported", "partly", "supported"]
''', path="faults.toml")


def episodes(n: int) -> list:
    return [episode(system("You are a data agent."), user(f"Revenue in {1900 + i}?"),
                    call("sql_query", query="SELECT totl FROM revenue"), result("Error: no such column"),
                    call("sql_query", query="SELECT total FROM revenue"), result(f"{i}.5"),
                    answer(f"It was {i}.5."), id=f"ep-{i}") for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--rates", default="0,0.05,0.2,0.5")
    parser.add_argument("--retries", type=int, default=3)
    args = parser.parse_args()
    eps = episodes(args.episodes)
    with ScriptedJudge() as clean:
        expected = {(v.episode_id, v.item): v for v in rubricate.score(eps, RUBRIC, judge=clean.config())}
    print("| fault rate | requests | served | error verdicts | lost | changed | wall s |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for rate in (float(r) for r in args.rates.split(",")):
        with ScriptedJudge(faults={k: rate / len(FAULTS) for k in FAULTS}, seed=1) as server:
            config = server.config(timeout=0.5, max_retries=args.retries, concurrency=16)
            t0 = time.perf_counter()
            got = {(v.episode_id, v.item): v for v in rubricate.score(eps, RUBRIC, judge=config)}
            wall = time.perf_counter() - t0
        errors = [v for v in got.values() if v.verdict == "error"]
        assert all(v.reason.startswith("judge: ") for v in errors)
        changed = sum(1 for k, v in got.items() if v.verdict != "error" and v != expected[k])
        reasons = collections.Counter(v.reason.split(":")[1].strip()[:40] for v in errors)
        served = ", ".join(f"{k} {n}" for k, n in sorted(server.served.items()))
        print(f"| {rate:.0%} | {len(server.requests)} | {served} | {len(errors)} of {2 * len(eps)} "
              f"{dict(reasons) if reasons else ''} | {len(expected.keys() - got.keys())} | {changed} | {wall:.1f} |")


if __name__ == "__main__":
    main()

"""Reward-function throughput: one TRL-style call over 1024 completions of ~10 KB each.

    python benchmarks/bench_reward.py [--n 1024] [--kb 10] [--repeat 5] [--rubric NAME] [--pad rows|prose]
    python benchmarks/bench_reward.py --shape finqa [--n 1024]     # FinQA-shaped completions (real tables)

The completions are tool rollouts in TRL's shape (dict arguments, tool messages without ids,
`{'error': ...}` failures) built from a fixed seed: a discovery call, a schema call, one or two SQL
queries (some failing, some repeated), tool outputs padded with table rows to ~`kb` KB, and a final
numeric answer. Prints the best and median time per completion of `as_trl_reward(...)(...)` on the
native path (the kernel scores the built-in items from the rollout's record; `RUBRICATE_NO_KERNEL=1`
turns it off) and on the Python path (`native=False`: Episode building, the check items in Python, the
collapse), alternating, in the same process; then of the Python check items alone on prebuilt episodes,
and of the collapse alone. One process, no pools. Measures; never asserts timings.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from rubricate.rewards import RewardScorer, as_trl_reward, collapse, episode_from_messages  # noqa: E402

TABLES = ["revenue", "costs", "segments", "employees"]


WORDS = "the of revenue segment table rows were filed in annual report for fiscal year and".split()


def completion(i: int, kb: int, pad: str = "rows") -> tuple[list[dict], list[dict], str]:
    r = random.Random(i)
    table = r.choice(TABLES)
    value = round(r.random() * 1000, 2)
    if pad == "rows":  # number-dense SQL output: the worst case for the number-grounding check
        rows = "\n".join(
            f"{2000 + k} | {round(r.random() * 1000, 2)} | {r.choice(TABLES)}" for k in range(kb * 40)
        )
    else:  # prose with few numbers
        rows = " ".join(r.choice(WORDS) for _ in range(kb * 250))
    rows = rows[: kb * 1024]

    def call(name: str, **args: object) -> dict:
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}],
        }

    msgs = [
        call("get_table_names"),
        {"role": "tool", "name": "get_table_names", "content": str(TABLES)},
        call("get_table_info", table_name=table),
        {"role": "tool", "name": "get_table_info", "content": "year | value | segment"},
    ]
    if r.random() < 0.3:
        msgs += [
            call("sql_query", query=f"SELEC value FROM {table}"),
            {"role": "tool", "name": "sql_query", "content": "{'error': 'near \"SELEC\": syntax error'}"},
        ]
    msgs += [
        call("sql_query", query=f"SELECT year, value, segment FROM {table} WHERE year > 2000"),
        {
            "role": "tool",
            "name": "sql_query",
            "content": f"year | value | segment\n{rows}\n2024 | {value} | x",
        },
        {"role": "assistant", "content": f"The value in 2024 was {value}."},
    ]
    prompt = [
        {"role": "system", "content": "You answer questions about 10-K tables with SQL."},
        {"role": "user", "content": f"What was the {table} value in 2024?"},
    ]
    return prompt, msgs, str(value if r.random() < 0.7 else value * 2)


FINQA = os.path.join(os.environ.get("RUBRICATE_CORPORA", os.path.join(os.path.dirname(HERE), "..", "shared",
                                                                          "corpora")), "finqa", "input_companies")


def finqa_tables(limit: int = 200) -> list[tuple[str, str, dict]]:
    """(company, table, columns) of real FinQA tables (../shared/corpora/finqa) with two numeric years."""
    import json

    out = []
    for company in sorted(os.listdir(FINQA)):
        folder = os.path.join(FINQA, company)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                table = json.load(f)
            years = [c for c in table if c.isdigit()]
            if len(years) >= 2 and "metric" in table:
                out.append((company, name[:-5], table))
            if len(out) >= limit:
                return out
    return out


def _number(text: str) -> float | None:
    cleaned = text.replace("$", "").replace(",", "").replace("%", "").strip()
    try:
        return float(cleaned)
    except ValueError:
        return None


def finqa_completion(i: int, tables: list) -> tuple[list[dict], list[dict], str]:
    """A FinQA-shaped rollout: list tables, read a schema (sometimes a wrong table first: an error and a
    retry), one or two SQL queries (a syntax error, then the fix), and an answer that is the percent change
    between two numbers the SQL returned (right 70% of the time)."""
    r = random.Random(i)
    company, name, table = tables[i % len(tables)]
    years = sorted(c for c in table if c.isdigit())[-2:]
    rows = [(table["metric"][k], table[years[0]].get(k, ""), table[years[1]].get(k, "")) for k in table["metric"]]
    numeric = [row for row in rows if _number(str(row[1])) and _number(str(row[2]))] or [("x", "1", "2")]
    metric, old, new = r.choice(numeric)
    change = (_number(str(new)) - _number(str(old))) / _number(str(old)) * 100

    def call(fn: str, **args: object) -> dict:
        return {"role": "assistant", "content": "",
                "tool_calls": [{"type": "function", "function": {"name": fn, "arguments": args}}]}

    def tool(fn: str, content: str) -> dict:
        return {"role": "tool", "name": fn, "content": content}

    msgs = [call("get_descriptions", company_name=company), tool("get_descriptions", str([name, "other_table"]))]
    if r.random() < 0.2:
        msgs += [call("get_table_info", company_name=company, table_name=name + "_x"),
                 tool("get_table_info", f"Error: table {name}_x not found")]
    msgs += [call("get_table_info", company_name=company, table_name=name),
             tool("get_table_info", f"columns: metric, {years[0]}, {years[1]}")]
    query = f"SELECT metric, \"{years[0]}\", \"{years[1]}\" FROM {name} WHERE metric = '{metric}'"
    if r.random() < 0.3:
        msgs += [call("sql_query", query=query.replace("SELECT", "SELEC")),
                 tool("sql_query", "Error: near \"SELEC\": syntax error")]
    table_text = "\n".join(f"{m} | {a} | {b}" for m, a, b in rows)
    msgs += [call("sql_query", query=query), tool("sql_query", f"metric | {years[0]} | {years[1]}\n{table_text}")]
    answer = change if r.random() < 0.7 else change * 1.5
    msgs.append({"role": "assistant", "content": f"{metric} changed by {answer:.1f}% from {years[0]} to {years[1]} "
                                                 f"({old} to {new})."})
    prompt = [{"role": "system", "content": "Answer questions about 10-K tables with the tools."},
              {"role": "user", "content": f"By what percent did {metric} of {company} change from {years[0]} to "
                                          f"{years[1]}?"}]
    return prompt, msgs, f"{change:.1f}%"


def timed(fn, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each repeat (CPU time is the steadier figure on a shared machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--kb", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rubric", default="tool-discipline")
    ap.add_argument(
        "--pad",
        choices=["rows", "prose"],
        default="rows",
        help="tool output filler: number-dense table rows (default) or prose",
    )
    ap.add_argument("--shape", choices=["sql", "finqa"], default="sql",
                    help="sql: synthetic SQL rollouts padded to --kb; finqa: FinQA-shaped rollouts on the real tables")
    args = ap.parse_args()

    if args.shape == "finqa":
        tables = finqa_tables()
        samples = [finqa_completion(i, tables) for i in range(args.n)]
        args.pad = f"FinQA, {len(tables)} real tables"
    else:
        samples = [completion(i, args.kb, args.pad) for i in range(args.n)]
    prompts, completions, truths = (list(x) for x in zip(*samples))
    size = sum(len(m["content"]) for c in completions for m in c) / args.n
    scorer = RewardScorer(args.rubric)
    python = RewardScorer(args.rubric, native=False)
    reward, python_reward = as_trl_reward(scorer), as_trl_reward(python)
    episodes = [episode_from_messages(p, c, ground_truth=t) for p, c, t in samples]
    outcomes = [python.score_episode(e) for e in episodes]
    verdicts = [o.verdicts for o in outcomes]

    def call(fn) -> None:
        # a fresh list each time: the per-batch cache must not answer
        fn(prompts=prompts, completions=list(completions), completion_ids=None, trainer_state=None, answer=truths)

    same = reward(prompts=prompts, completions=completions, answer=truths) == \
        python_reward(prompts=prompts, completions=completions, answer=truths)
    native_wall, native_cpu, python_wall, python_cpu = [], [], [], []
    for _ in range(args.repeat):  # alternating, so that both see the same load
        for fn, wall, cpu in ((reward, native_wall, native_cpu), (python_reward, python_wall, python_cpu)):
            w, c = timed(lambda fn=fn: call(fn), 1)
            wall += w
            cpu += c
    kernel = "on" if scorer.native is not None else "off (not built, or RUBRICATE_NO_KERNEL is set)"
    rows = [
        (f"as_trl_reward call, native path (kernel {kernel})", (native_wall, native_cpu)),
        ("as_trl_reward call, Python path (native=False: messages -> Episode -> checks -> collapse)",
         (python_wall, python_cpu)),
        (
            "Python check items + collapse on prebuilt Episodes",
            timed(lambda: [python.score_episode(e) for e in episodes], args.repeat),
        ),
        ("collapse alone", timed(lambda: [collapse(v, scorer.rubric) for v in verdicts], args.repeat)),
    ]
    rewards = [o.reward for o in outcomes]
    print(
        f"rubric {scorer.rubric.id}: {args.n} completions, {size / 1024:.1f} KB of message text each "
        f"({args.pad}), "
        f"{sum(r is not None for r in rewards)} scorable, mean reward "
        f"{statistics.mean(r for r in rewards if r is not None):.3f}; {args.repeat} repeats, 1 process; "
        f"native and Python rewards {'identical' if same else 'DIFFER'}"
    )
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| what | CPU us/completion (best) | CPU (median) | wall us/completion (best) | wall (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu) in rows:
        print(
            f"| {name} | {min(cpu) / args.n * 1e6:.1f} | {statistics.median(cpu) / args.n * 1e6:.1f} | "
            f"{min(wall) / args.n * 1e6:.1f} | {statistics.median(wall) / args.n * 1e6:.1f} |"
        )


if __name__ == "__main__":
    main()

"""Episodes and rubrics shared by the judge tests."""

from __future__ import annotations

from rubricate.rubrics import Rubric, parse_rubric
from rubricate.testing import answer, call, episode, result, system, user
from rubricate.traces import Episode

JUDGE_RUBRIC = '''
id = "judged"
version = "1.0.0"
[[items]]
id = "discovers_tables"
[[items]]
id = "acknowledges_errors"
kind = "judge"
behavior = "error-recovery"
question = "Did the agent notice failed tool calls?"
[[items]]
id = "recovers_from_errors"
[[items]]
id = "answer_quality"
kind = "judge"
question = "How well does the answer follow from the data?"
choices = ["unsupported", "partly", "supported"]
'''


def judged_rubric(text: str = JUDGE_RUBRIC) -> Rubric:
    return parse_rubric(text, path="judged.toml")


def sql_episode(i: int, *, steps: int = 0) -> Episode:
    """A small data-agent episode; `steps` adds that many extra query/result pairs."""
    extra = []
    for k in range(steps):
        extra += [call("sql_query", query=f"SELECT {k} FROM t"), result(f"{k}")]
    return episode(system("You are a data agent."), user(f"What was revenue in {2000 + i}?"),
                   call("get_table_names"), result('["revenue"]'),
                   call("sql_query", query="SELECT totl FROM revenue"), result("Error: no such column: totl"),
                   *extra, call("sql_query", query="SELECT total FROM revenue"), result(f"{i}.5"),
                   answer(f"Revenue was {i}.5 million."), id=f"ep-{i:03d}", ground_truth=f"{i}.5")

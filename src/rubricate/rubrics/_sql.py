"""Tables an SQL statement reads: FROM / JOIN targets, without CTE names or function-call FROMs.

A regular-expression reader, not a parser: it runs on the scoring hot path (a parse with sqlglot
costs ~100x more). It understands quoted and schema-qualified names, comma lists after FROM,
CTEs (`WITH x AS (...)`) and the FROM inside EXTRACT/TRIM/SUBSTRING/OVERLAY calls.
"""

from __future__ import annotations

import re
from functools import lru_cache

_PART = r"(?:`[^`]+`|\"[^\"]+\"|\[[^\]]+\]|[\w$\-]+)"  # a quoted name may hold spaces
_NAME = rf"{_PART}(?:\.{_PART})*"
_FIRST_NAME = re.compile(_NAME)
_LAST_PART = re.compile(rf"{_PART}$")
_ALIAS = (r"(?:\s+(?:as\s+)?(?!(?:join|on|where|group|order|limit|inner|left|right|full|outer|cross|natural|union|"
          r"having|using|window|except|intersect)\b)\w+)?")
_FROM_JOIN = re.compile(rf"\b(from|join)\s+(?!\()({_NAME}{_ALIAS}(?:\s*,\s*{_NAME}{_ALIAS})*)", re.IGNORECASE)
_CTE = re.compile(r"(?:\bwith(?:\s+recursive)?|,)\s*([`\"\[]?\w+[`\"\]]?)\s+as\s*\(", re.IGNORECASE)
_FUNC_FROM = re.compile(r"\b(extract|trim|substring|overlay|position)\s*\([^()]*$", re.IGNORECASE)
_KEYWORDS = frozenset(("select", "where", "on", "using", "lateral", "unnest", "dual"))


def normalise_table(name: str) -> str:
    last = _LAST_PART.search(name.strip())
    return (last.group(0) if last else name.strip().rsplit(".", 1)[-1]).strip("`\"[]").lower()


_SIMPLE = re.compile(r"\b(?:from|join)\s+([A-Za-z_][\w$]*)\b(?!\s*[.,(])", re.IGNORECASE)
_FUNCTIONS = ("extract", "trim", "substring", "overlay", "position")
_CLAUSE_HINTS = (",", "\"", "`", "[", ".")


@lru_cache(maxsize=8192)
def tables_in(sql: str) -> frozenset[str]:
    """Lower-cased names of the tables `sql` reads (empty when it names none)."""
    low = sql.lower()
    if "from" not in low and "join" not in low:
        return frozenset()
    clause = low[low.find("from"):]
    check_functions = any(f in low for f in _FUNCTIONS)
    if not check_functions and "with" not in low and not any(h in clause for h in _CLAUSE_HINTS):
        # plain names only: one cheap pattern is enough
        return frozenset(n.lower() for n in _SIMPLE.findall(sql) if n.lower() not in _KEYWORDS)
    ctes = {normalise_table(m.group(1)) for m in _CTE.finditer(sql)} if "with" in low else set()
    found: set[str] = set()
    for m in _FROM_JOIN.finditer(sql):
        if check_functions and m.group(1).lower() == "from" and \
                _FUNC_FROM.search(sql, max(0, m.start() - 200), m.start()):
            continue
        for part in m.group(2).split(","):
            first = _FIRST_NAME.match(part.strip())
            token = first.group(0) if first else ""
            name = normalise_table(token)
            if name and name not in ctes and name not in _KEYWORDS and not name[0].isdigit():
                found.add(name)
    return frozenset(found)

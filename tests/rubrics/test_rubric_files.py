"""Rubric files: parse/load errors, params resolution, content hash, built-ins, the example, the JSON schema."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from rubricate.errors import RubricError, UnknownCheckError
from rubricate.rubrics import (
    Rubric, RubricSpec, builtin_rubrics, check, isolated_registry, load_rubric, parse_rubric, rubric_json_schema,
)

from ._support import EXAMPLE_RUBRIC

SCHEMA_FILE = Path(resources.files("rubricate.rubrics").joinpath("rubric.schema.json"))  # type: ignore[arg-type]
HEAD = 'id = "my-rubric"\nversion = "1.0.0"\n'


def rubric_error(text: str, path: str = "rubrics/x.toml") -> RubricError:
    with pytest.raises(RubricError) as info:
        parse_rubric(text, path=path)
    return info.value


# ---------------------------------------------------------------- errors

def test_unknown_check_names_file_item_and_suggests_the_right_name():
    err = rubric_error(HEAD + '[[items]]\nid = "discovers_tables"\n\n'
                              '[[items]]\nid = "no_repeats"\ncheck = "no_repeated_failng_call"\n')
    assert isinstance(err, UnknownCheckError)
    assert str(err) == "rubrics/x.toml: items[1].check: unknown check 'no_repeated_failng_call'"
    assert err.hint == "did you mean 'no_repeated_failing_call'?"
    assert (err.name, err.path, err.location) == ("no_repeated_failng_call", "rubrics/x.toml", "items[1].check")


def test_an_item_id_without_check_names_the_check_by_its_id():
    err = rubric_error(HEAD + '[[items]]\nid = "discovers_table"\n')
    assert isinstance(err, UnknownCheckError)
    assert "items[0].check: unknown check 'discovers_table'" in str(err)
    assert err.hint == "did you mean 'discovers_tables'?"


def test_unknown_check_with_nothing_close_hints_how_to_register():
    err = rubric_error(HEAD + '[[items]]\nid = "zzz"\n')
    assert isinstance(err, UnknownCheckError)
    assert "@check" in (err.hint or "")


def test_invalid_toml_names_the_file_and_line():
    err = rubric_error(HEAD + '[[items]\nid = "x"\n')
    assert str(err).startswith("rubrics/x.toml: not valid TOML:")
    assert "line 3" in str(err)
    assert err.path == "rubrics/x.toml" and err.hint


def test_duplicate_item_ids():
    err = rubric_error(HEAD + '[[items]]\nid = "discovers_tables"\n\n[[items]]\nid = "discovers_tables"\n')
    assert str(err) == "rubrics/x.toml: items[1].id: duplicate item id 'discovers_tables'"
    assert err.location == "items[1].id"


def test_judge_item_without_question():
    err = rubric_error(HEAD + '[[items]]\nid = "polite"\nkind = "judge"\n')
    assert str(err).startswith("rubrics/x.toml: items[0]")
    assert "question" in str(err)
    assert err.location == "items[0]"


def test_question_on_a_check_item():
    err = rubric_error(HEAD + '[[items]]\nid = "discovers_tables"\nquestion = "Did it?"\n')
    assert "items[0]" in str(err) and "judge" in str(err)


def test_unknown_top_level_key():
    err = rubric_error(HEAD + 'itmes = []\n[[items]]\nid = "discovers_tables"\n')
    assert str(err).startswith("rubrics/x.toml: itmes: ")
    assert err.location == "itmes"
    assert err.hint


def test_unknown_item_key_names_the_item():
    err = rubric_error(HEAD + '[[items]]\nid = "discovers_tables"\nwieght = 2\n')
    assert str(err).startswith("rubrics/x.toml: items[0].wieght: ")


@pytest.mark.parametrize(("text", "where"), [
    ('version = "1"\n[[items]]\nid = "discovers_tables"\n', "id"),
    ('id = "Bad Id"\nversion = "1"\n[[items]]\nid = "discovers_tables"\n', "id"),
    (HEAD, "items"),
    (HEAD + "items = []\n", "items"),
    (HEAD + '[[items]]\nid = "discovers_tables"\nkind = "oracle"\n', "items[0].kind"),
    (HEAD + '[[items]]\nid = "discovers_tables"\nweight = "heavy"\n', "items[0].weight"),
])
def test_schema_errors_name_the_location(text, where):
    err = rubric_error(text)
    assert err.location == where
    assert str(err).startswith(f"rubrics/x.toml: {where}: ")


def test_load_rubric_from_a_file_names_that_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(HEAD + '[[items]]\nid = "no_repeated_failng_call"\n', encoding="utf-8")
    with pytest.raises(UnknownCheckError) as info:
        load_rubric(path)
    assert str(info.value).startswith(f"{path}: items[0].check: unknown check")


def test_unknown_builtin_rubric_name_suggests_the_closest():
    with pytest.raises(RubricError) as info:
        load_rubric("tool-disciplin")
    assert "tool-disciplin" in str(info.value)
    assert info.value.hint == "did you mean 'tool-discipline'?"


def test_unknown_rubric_with_nothing_close_lists_the_builtins():
    with pytest.raises(RubricError) as info:
        load_rubric("zzzz")
    assert "sql-agent" in (info.value.hint or "")


# ---------------------------------------------------------------- params

def test_params_merge_check_defaults_then_rubric_then_item():
    with isolated_registry():
        @check(behavior="test", params={"a": 1, "b": 1, "c": 1, "query_tools": ["Default_Q"], "limits": ()})
        def layered(ctx):
            return True

        rubric = parse_rubric(HEAD + '[params]\nb = 2\nc = 2\nquery_tools = ["SQL_Query", "run_sql"]\n'
                                     'limits = [1, 2]\n\n'
                                     '[[items]]\nid = "first"\ncheck = "layered"\nparams = { c = 3 }\n\n'
                                     '[[items]]\nid = "second"\ncheck = "layered"\n'
                                     'params = { query_tools = ["X"] }\n')
    first, second = rubric.items
    assert {k: first.params[k] for k in "abc"} == {"a": 1, "b": 2, "c": 3}
    assert {k: second.params[k] for k in "abc"} == {"a": 1, "b": 2, "c": 2}
    assert first.params["query_tools"] == frozenset({"sql_query", "run_sql"})
    assert second.params["query_tools"] == frozenset({"x"})
    assert first.params["limits"] == (1, 2)


def test_builtin_tool_lists_become_lower_cased_frozensets():
    rubric = load_rubric("tool-discipline")
    for item in rubric.items:
        for key, value in item.params.items():
            if key.endswith("_tools"):
                assert isinstance(value, frozenset), (item.id, key)
                assert all(v == v.lower() for v in value)
    assert "get_table_names" in rubric.item("discovers_tables").params["discovery_tools"]


def test_item_defaults_come_from_the_check():
    rubric = parse_rubric(HEAD + '[[items]]\nid = "found_tables"\ncheck = "discovers_tables"\nweight = 0\n')
    item = rubric.item("found_tables")
    assert item.check is not None and item.check.name == "discovers_tables"
    assert item.behavior == "discovery"
    assert item.description
    assert item.weight == 0.0


# ---------------------------------------------------------------- content hash

BASE = HEAD + """
[params]
query_tools = ["sql_query"]

[[items]]
id = "discovers_tables"

[[items]]
id = "grounded_answer"
params = { answer_tools = ["submit_answer"] }
"""


def test_hash_ignores_whitespace_and_comments():
    reformatted = "# a comment\n" + BASE.replace("\n[[items]]", "\n\n# another\n[[items]]").replace(" = ", "   =   ")
    assert parse_rubric(reformatted).hash == parse_rubric(BASE).hash
    assert parse_rubric(BASE).hash.startswith("sha256:")


def test_hash_changes_when_item_params_change():
    changed = BASE.replace('answer_tools = ["submit_answer"]', 'answer_tools = ["final_answer"]')
    assert parse_rubric(changed).hash != parse_rubric(BASE).hash


@pytest.mark.parametrize(("old", "new"), [
    ('query_tools = ["sql_query"]', 'query_tools = ["run_sql"]'),
    ('version = "1.0.0"', 'version = "1.0.1"'),
    ('id = "grounded_answer"', 'id = "grounded_answer"\nweight = 2'),
])
def test_hash_changes_with_meaning(old, new):
    assert parse_rubric(BASE.replace(old, new)).hash != parse_rubric(BASE).hash


def test_hash_changes_when_a_check_version_changes():
    with isolated_registry():
        @check(behavior="test", name="versioned", version="1")
        def versioned_v1(ctx):
            return True

        text = HEAD + '[[items]]\nid = "versioned"\n'
        before = parse_rubric(text).hash

    with isolated_registry():
        @check(behavior="test", name="versioned", version="2")
        def versioned_v2(ctx):
            return True

        after = parse_rubric(text).hash
    assert before != after


# ---------------------------------------------------------------- built-ins and the example

@pytest.mark.parametrize("name", sorted(builtin_rubrics()))
def test_builtin_rubrics_load(name):
    rubric = load_rubric(name)
    assert isinstance(rubric, Rubric)
    assert rubric.id == name
    assert rubric.items and all(i.check is not None for i in rubric.checks)
    assert builtin_rubrics()[name]


def test_tool_discipline_has_six_checks_and_three_judge_items():
    rubric = load_rubric("tool-discipline")
    assert [i.id for i in rubric.checks] == [
        "discovers_tables", "inspects_schema", "recovers_from_errors", "no_repeated_failing_call",
        "grounded_answer", "answer_correct",
    ]
    assert [(i.id, i.weight) for i in rubric.judges] == [
        ("acknowledges_tool_errors", 0.0), ("answer_follows_from_data", 0.0), ("no_fabricated_entities", 0.0)]
    assert all(i.spec is not None and i.spec.question for i in rubric.judges)


def test_the_wiki_search_example_loads():
    rubric = load_rubric(EXAMPLE_RUBRIC)
    assert rubric.id == "wiki-search-discipline"
    assert rubric.item("searches_first").check.name == "discovers_tables"
    assert rubric.item("views_sections_first").params["schema_tools"] == frozenset({"view_sections"})
    assert rubric.item("answer_correct").params["answer_tools"] == frozenset()


def _rubric_files() -> list:
    builtin = resources.files("rubricate.rubrics.builtin")
    files = [pytest.param(builtin.joinpath(f"{n}.toml").read_text("utf-8"), id=f"builtin:{n}")
             for n in sorted(builtin_rubrics())]
    return files + [pytest.param(EXAMPLE_RUBRIC.read_text("utf-8"), id="example:wiki-search")]


@pytest.mark.parametrize("text", _rubric_files())
def test_shipped_rubric_files_validate_against_the_spec(text):
    spec = RubricSpec.model_validate(tomllib.loads(text))
    assert spec.items


# ---------------------------------------------------------------- the published JSON schema

def _generated_schema_text() -> str:
    return json.dumps(rubric_json_schema(), indent=2, ensure_ascii=False) + "\n"


def test_published_schema_file_equals_the_generated_schema():
    assert SCHEMA_FILE.is_file(), "src/rubricate/rubrics/rubric.schema.json is missing"
    assert SCHEMA_FILE.read_text("utf-8") == _generated_schema_text(), (
        "rubric.schema.json is out of date; regenerate it with: python -c \"import json; "
        "from rubricate.rubrics import rubric_json_schema as s; "
        "open('src/rubricate/rubrics/rubric.schema.json', 'w').write(json.dumps(s(), indent=2, ensure_ascii=False)"
        " + '\\n')\"")


def test_schema_describes_rubric_files():
    schema = json.loads(SCHEMA_FILE.read_text("utf-8"))
    assert schema["$id"] == "https://rubricate.dev/schema/rubric-1.json"
    assert schema["title"] == "Rubricate rubric"
    assert set(schema["required"]) == {"id", "version", "items"}
    assert schema["additionalProperties"] is False
    assert "$schema" in schema["properties"]
    item = schema["$defs"]["ItemSpec"]
    assert item["additionalProperties"] is False
    assert {"id", "kind", "check", "weight", "question", "params"} <= set(item["properties"])


def test_a_rubric_may_name_its_schema():
    rubric = parse_rubric('"$schema" = "https://rubricate.dev/schema/rubric-1.json"\n' + BASE)
    assert rubric.hash == parse_rubric(BASE).hash


# ---------------------------------------------------------------- extends / drop

def test_extends_takes_the_base_items_less_drop_replaces_by_id_and_adds_new_ones(tmp_path):
    (tmp_path / "mine.toml").write_text(
        HEAD + 'extends = "agent-basics"\ndrop = ["no_repeated_failing_call"]\n'
        '[params]\nmax_tool_calls = 12\n\n'
        '[[items]]\nid = "grounded_answer"\nweight = 2.0\n\n'
        '[[items]]\nid = "answer_correct"\n')
    base, mine = load_rubric("agent-basics"), load_rubric(tmp_path / "mine.toml")
    want = [i.id for i in base.items if i.id != "no_repeated_failing_call"] + ["answer_correct"]
    assert [i.id for i in mine.items] == want
    assert mine.item("grounded_answer").weight == 2.0 and base.item("grounded_answer").weight != 2.0
    assert mine.item("stays_within_step_budget").params["max_tool_calls"] == 12
    assert mine.item("answers_question").params["handoff_tools"] == base.item("answers_question").params["handoff_tools"]
    assert mine.id == "my-rubric" and mine.hash != base.hash


def test_extends_a_file_relative_to_the_rubric(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.toml").write_text('id = "base"\nversion = "1"\n[[items]]\nid = "answers_question"\n')
    (tmp_path / "sub" / "top.toml").write_text(HEAD + 'extends = "../base.toml"\n[[items]]\nid = "answer_correct"\n')
    assert [i.id for i in load_rubric(tmp_path / "sub" / "top.toml").items] == ["answers_question", "answer_correct"]


def test_drop_of_an_item_the_base_lacks_is_an_error_with_a_hint():
    err = rubric_error(HEAD + 'extends = "agent-basics"\ndrop = ["recovers_from_eror"]\n[[items]]\nid = "answer_correct"\n')
    assert str(err) == "rubrics/x.toml: drop[0]: 'agent-basics' has no item 'recovers_from_eror'"
    assert err.hint == "did you mean 'recovers_from_errors'?" and err.location == "drop[0]"


def test_extends_an_unknown_rubric_or_a_cycle_is_an_error(tmp_path):
    err = rubric_error(HEAD + 'extends = "agent-basic"\n[[items]]\nid = "answer_correct"\n')
    assert "extends: no rubric file or built-in rubric named 'agent-basic'" in str(err)
    (tmp_path / "a.toml").write_text(HEAD + 'extends = "b.toml"\n[[items]]\nid = "answer_correct"\n')
    (tmp_path / "b.toml").write_text(HEAD + 'extends = "a.toml"\n[[items]]\nid = "answers_question"\n')
    with pytest.raises(RubricError, match="a cycle"):
        load_rubric(tmp_path / "a.toml")


def test_the_mast_preset_is_multi_agent_without_the_tool_call_items():
    mast, multi = load_rubric("mast"), load_rubric("multi-agent")
    assert [i.id for i in mast.checks] == ["answer_correct"]
    assert [i.id for i in mast.judges] == [i.id for i in multi.judges if i.id != "no_decisive_mistake"]

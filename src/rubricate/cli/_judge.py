"""The --judge-* options shared by `score` and `calibrate`, turned into a JudgeConfig (or None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..errors import JudgeError

if TYPE_CHECKING:  # (the judge stack is imported when a judge is configured: `score` starts light)
    from ..rubrics.judges import JudgeConfig

_OPTIONS = [
    click.option("--judge-model", metavar="MODEL", default=None,
                 help="Ask judge items of this model (without it, judge items are skipped and run.json says so)."),
    click.option("--judge-base-url", metavar="URL", default=None,
                 help="OpenAI-compatible endpoint (default: OpenAI's), e.g. http://127.0.0.1:8080/v1."),
    click.option("--judge-api-key-env", metavar="NAME", default=None,
                 help="Environment variable holding the API key (default OPENAI_API_KEY; never written anywhere)."),
    click.option("--judge-cache", "judge_cache", metavar="DIR", default=None,
                 show_default="~/.cache/rubricate",
                 help="Directory of the judge's answer cache."),
    click.option("--no-judge-cache", is_flag=True, help="Do not read or write the judge cache."),
    click.option("--judge-concurrency", type=click.IntRange(min=1), default=8, show_default=True,
                 help="Requests in flight at once (all workers together)."),
    click.option("--judge-max-calls", type=click.IntRange(min=0), default=None, help="Budget: most requests."),
    click.option("--judge-max-tokens", type=click.IntRange(min=0), default=None, help="Budget: most tokens."),
    click.option("--judge-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
                 help="Seconds to wait for one reply."),
    click.option("--judge-retries", type=click.IntRange(min=0), default=3, show_default=True,
                 help="Retries of 429, 5xx, timeouts and connection errors (exponential backoff)."),
    click.option("--judge-temperature", type=click.FloatRange(min=0), default=0.0, show_default=True),
    click.option("--judge-max-output-tokens", type=click.IntRange(min=16), default=1024, show_default=True,
                 help="Most tokens in one reply (all the items of an episode)."),
    click.option("--judge-batch", type=click.IntRange(min=1), default=32, show_default=True,
                 help="Episodes judged together by each worker."),
    click.option("--judge-response-format", type=click.Choice(["auto", "json_schema", "json_object", "text"]),
                 default="auto", show_default=True,
                 help="auto: ask for a JSON schema, fall back to plain JSON when the endpoint refuses."),
    click.option("--judge-max-prompt-chars", type=click.IntRange(min=2000), default=60_000, show_default=True,
                 help="Longer episodes are shortened visibly (cut contents, left-out middle steps)."),
    click.option("--judge-prices", metavar="FILE", type=click.Path(exists=True, dir_okay=False), default=None,
                 help='Price table for the cost in the ledger: [models."M"] input = 0.4, output = 1.6 '
                      "(USD per million tokens)."),
    click.option("--judge-no-redact", is_flag=True,
                 help="Send episodes to the judge as they are (secrets, emails and phone numbers are redacted "
                      "by default)."),
]


def judge_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def judge_config(options: dict[str, Any]) -> JudgeConfig | None:
    """Pop the judge options out of a command's keyword arguments; None without --judge-model."""
    o = {k: options.pop(k) for k in list(options) if k.startswith("judge_") or k == "no_judge_cache"}
    if not o["judge_model"]:
        given = [k for k in ("judge_base_url", "judge_api_key_env", "judge_max_calls", "judge_max_tokens",
                             "judge_prices") if o[k] is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise JudgeError(f"{flag} needs --judge-model", hint="name the judge model with --judge-model MODEL")
        return None
    from ..rubrics.judges import DEFAULT_CACHE_DIR, JudgeConfig, load_prices

    return JudgeConfig(
        model=o["judge_model"], base_url=o["judge_base_url"], api_key_env=o["judge_api_key_env"],
        cache_dir=None if o["no_judge_cache"] else o["judge_cache"] or DEFAULT_CACHE_DIR,
        concurrency=o["judge_concurrency"],
        max_calls=o["judge_max_calls"], max_tokens=o["judge_max_tokens"], timeout=o["judge_timeout"],
        max_retries=o["judge_retries"], temperature=o["judge_temperature"], batch=o["judge_batch"],
        max_output_tokens=o["judge_max_output_tokens"],
        response_format=o["judge_response_format"], max_prompt_chars=o["judge_max_prompt_chars"],
        prices=load_prices(o["judge_prices"]) if o["judge_prices"] else {}, redact=not o["judge_no_redact"],
    )


def print_judge(info: dict[str, Any] | None, console: Any) -> None:
    """The judge part of `rubricate summary`: skipped items, or the ledger in totals and per item."""
    from rich.markup import escape
    from rich.table import Table

    if not info:
        return
    if info.get("status") != "configured":
        console.print(f"judge items not scored: {escape(', '.join(info.get('skipped_items', [])))} "
                      f"({escape(info.get('reason', 'no judge configured'))})")
        return
    led = info["ledger"]
    where = info.get("base_url") or "OpenAI"
    cost = f", ${led['cost_usd']:.4f}" if led.get("cost_usd") is not None else ""
    lat = led["latency_s"]
    console.print(
        f"judge {escape(info['model'])} at {escape(where)}: {led['calls']:,} calls ({led['retries']:,} retries, "
        f"{led['ok_calls']:,} ok), {led['tokens_in']:,} tokens in, {led['tokens_out']:,} out{cost}; "
        f"{led['cache_hits']:,} cache hits, {led['answered']:,} answers, {led['error_verdicts']:,} error verdicts, "
        f"{led['invalid_citations']:,} invalid citations dropped, {led['shortened']:,} episodes shortened; "
        f"latency p50 {lat['p50'] or 0:.2f}s p95 {lat['p95'] or 0:.2f}s")
    if led["failures"]:
        console.print("  failed attempts: " + ", ".join(f"{k} {v:,}" for k, v in led["failures"].items()))
    table = Table(title="judge ledger per item", title_justify="left")
    for name in ("item", "asked", "cache hits", "answered", "errors", "invalid citations", "tokens in",
                 "tokens out", "cost $"):
        table.add_column(name, justify="left" if name == "item" else "right")
    for item_id, e in led["items"].items():
        table.add_row(escape(item_id), f"{e['asked']:,}", f"{e['cache_hits']:,}", f"{e['answered']:,}",
                      f"{e['errors']:,}", f"{e['invalid_citations']:,}", f"{e['tokens_in']:,.0f}",
                      f"{e['tokens_out']:,.0f}", "-" if e.get("cost_usd") is None else f"{e['cost_usd']:.4f}")
    console.print(table)

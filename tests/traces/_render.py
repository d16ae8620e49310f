"""Render chat messages through the real chat templates in `tests/fixtures/chat-templates/`.

With transformers installed, its own `render_jinja_template` (what `apply_chat_template` runs) renders;
without it, a Jinja environment set up as transformers sets it up (`trim_blocks`, `lstrip_blocks`,
`loopcontrols`, its `tojson`, `raise_exception`, `strftime_now`).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

RENDER_DAY = datetime(2024, 7, 26)  # Llama 3.1's template's own default date
TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "chat-templates"

# template file -> (tool_format, special tokens the template reads)
FAMILIES: dict[str, tuple[str, dict[str, str]]] = {
    "Qwen-Qwen2.5-7B-Instruct": ("hermes", {}),
    "Qwen-Qwen3-0.6B": ("hermes", {}),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use": ("hermes", {"bos_token": "<|begin_of_text|>"}),
    "meta-llama-Llama-3.1-8B-Instruct": ("llama3", {"bos_token": "<|begin_of_text|>"}),
    "mistralai-Mistral-Nemo-Instruct-2407": ("mistral", {"bos_token": "<s>", "eos_token": "</s>"}),
    "Mistral-Small-3.2-24B-Instruct-2506": ("mistral", {"bos_token": "<s>", "eos_token": "</s>"}),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("deepseek", {"bos_token": "<｜begin▁of▁sentence｜>"}),
    "deepseek-ai-DeepSeek-V3.1": ("deepseek", {"bos_token": "<｜begin▁of▁sentence｜>"}),
    "openai-gpt-oss-120b": ("harmony", {}),
}


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")


@cache
def _fallback(source: str) -> Any:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    # a fixed "today": the templates write it into the system turn, and the renderings (and what a
    # rubric finds in them) must not change from one day to the next
    env.globals["strftime_now"] = lambda fmt: RENDER_DAY.strftime(fmt)
    return env.from_string(source)


def render(name: str, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
           add_generation_prompt: bool = False) -> str:
    """The text template `name` writes for `messages` (raises jinja2's TemplateError where it refuses)."""
    source = template(name)
    extra = FAMILIES[name][1]
    try:
        from transformers.utils.chat_template_utils import render_jinja_template
    except ImportError:
        return _fallback(source).render(messages=messages, tools=tools,
                                        add_generation_prompt=add_generation_prompt, **extra)
    rendered, _ = render_jinja_template(conversations=[messages], tools=tools, chat_template=source,
                                        add_generation_prompt=add_generation_prompt, **extra)
    return rendered[0]

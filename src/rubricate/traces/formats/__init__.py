"""Built-in trace formats; each module registers itself with `@trace_format` on import."""

from . import anthropic, openai_chat, openai_responses, verifiers

__all__ = ["anthropic", "openai_chat", "openai_responses", "verifiers"]

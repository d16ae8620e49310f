"""Built-in checks; each registers itself with `@check` on import."""

from . import correctness, tool_discipline

__all__ = ["correctness", "tool_discipline"]

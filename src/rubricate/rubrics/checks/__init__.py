"""Built-in checks; each registers itself with `@check` on import."""

from . import agent_basics, correctness, customer_service, tool_discipline

__all__ = ["agent_basics", "correctness", "customer_service", "tool_discipline"]

"""Built-in checks; each registers itself with `@check` on import, and declares its reasons in the
one table of reason templates (`REASONS`, by code), which the native kernel fills its reasons into."""

from .._reasons import REASONS, SEPARATOR, Reason, reasons
from . import agent_basics, correctness, customer_service, tool_discipline

__all__ = ["REASONS", "SEPARATOR", "Reason", "agent_basics", "correctness", "customer_service", "reasons",
           "tool_discipline"]

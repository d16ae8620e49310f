"""Built-in checks; each registers itself with `@check` on import, and declares its reasons in the
one table of reason templates (`REASONS`, by code), which the native kernel's reasons are rendered from."""

from .._reasons import REASONS, Reason, reasons
from . import agent_basics, correctness, tool_discipline

__all__ = ["REASONS", "Reason", "agent_basics", "correctness", "reasons", "tool_discipline"]

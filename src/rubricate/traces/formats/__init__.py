"""Built-in trace formats: every public module here registers itself with `@trace_format` on import.

Adding a format is adding a module; this package imports each one (in name order).
"""

from importlib import import_module
from pkgutil import iter_modules

__all__ = sorted(m.name for m in iter_modules(__path__) if not m.name.startswith("_"))
for _name in __all__:
    import_module(f"{__name__}.{_name}")

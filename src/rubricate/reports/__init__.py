"""reports: self-contained HTML failure reports. Not built yet: see the README's roadmap (issue 5)."""

__all__: list[str] = []

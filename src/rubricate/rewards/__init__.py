"""rewards: the rubric collapsed into one scalar and exported to trainers. Not built yet: see the
README's roadmap (issue 6)."""

__all__: list[str] = []

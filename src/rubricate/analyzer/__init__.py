"""analyzer: what is computed from runs: reading a run back (Run), the failure analysis (analyze),
run against run (compare), what to train next (guide), and agreement with human labels (calibrate).

Names are imported on first use, so importing the package does not load polars or DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._analysis import Analysis, analyze
    from ._calibrate import Label, calibrate, cohen_kappa, read_labels, sample_verdicts, self_consistency, write_labels
    from ._compare import comparability, compare, matched_pairs
    from ._diagnosis import Chain, Cube, Diagnosis, Edge, diagnose
    from ._evidence import Evidence, EvidenceRule
    from ._guide import GuideEntry, GuideExample, GuideWhere, guide, write_guide
    from ._labels import MAST_MODES, WHO_AND_WHEN_ITEM, labels_from_metadata, labels_from_run, mast_item
    from ._results import COHORT_COLUMNS, Run, open_run

_WHERE = {
    "Analysis": "_analysis", "analyze": "_analysis",
    **dict.fromkeys(("Label", "calibrate", "cohen_kappa", "read_labels", "sample_verdicts", "self_consistency",
                     "write_labels"), "_calibrate"),
    **dict.fromkeys(("comparability", "compare", "matched_pairs"), "_compare"),
    **dict.fromkeys(("Chain", "Cube", "Diagnosis", "Edge", "diagnose"), "_diagnosis"),
    **dict.fromkeys(("Evidence", "EvidenceRule"), "_evidence"),
    **dict.fromkeys(("GuideEntry", "GuideExample", "GuideWhere", "guide", "write_guide"), "_guide"),
    **dict.fromkeys(("MAST_MODES", "WHO_AND_WHEN_ITEM", "labels_from_metadata", "labels_from_run", "mast_item"),
                    "_labels"),
    "COHORT_COLUMNS": "_results", "Run": "_results", "open_run": "_results",
}

__all__ = ["COHORT_COLUMNS", "MAST_MODES", "WHO_AND_WHEN_ITEM", "Analysis", "Chain", "Cube", "Diagnosis", "Edge",
           "Evidence", "EvidenceRule", "GuideEntry", "GuideExample", "GuideWhere", "Label", "Run", "analyze",
           "calibrate", "cohen_kappa", "comparability", "compare", "diagnose", "guide", "labels_from_metadata",
           "labels_from_run", "mast_item", "matched_pairs", "open_run", "read_labels", "sample_verdicts",
           "self_consistency", "write_guide", "write_labels"]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

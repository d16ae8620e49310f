"""Every exception Rubricate raises on purpose.

The tree::

    RubricateError                 base of all of them; `.hint` says what to do next
    ├── TraceError                 a trace file or record could not be read
    │   ├── FormatError            no format, or two equally good formats, claim a file
    │   └── LoadIssueError         a load issue under `strict=True` (carries the LoadIssue)
    ├── RubricError                a rubric file is invalid (path, location, name)
    │   └── UnknownCheckError      an item names a check nobody registered
    ├── CheckError                 a check was registered wrongly (not raised while scoring:
    │                              a check that raises while scoring gives an `error` verdict)
    ├── JudgeError                 a judge is configured wrongly (model, endpoint, key, cache, labels);
    │                              a judge that fails while scoring gives `error` verdicts instead
    ├── RunError                   a run directory is missing, incomplete or of another version
    │   ├── RunLockedError         another process is writing the run (exit 3; attribute: pid)
    │   └── OutputError            --out cannot hold a run: not a run and not empty, a file,
    │                              unwritable, or nothing to resume (a usage error, exit 2)
    ├── AnalysisError              an analysis asked of a run what it cannot give (unknown outcome
    │                              item, no rewards, a bad SQL query): a usage error
    └── EngineError                a scoring engine or storage back end that is not installed or not
                                   known (`--engine ray` without Ray, `s3://` without s3fs): a usage error

Messages say what happened and where first, then the hint on its own line when printed by the CLI.
A damaged record is never an exception while loading: it is a `LoadIssue` (see traces.LoadIssue).
"""

from __future__ import annotations

from typing import Any


class RubricateError(Exception):
    """Base class. `hint` is an optional next step for the user."""

    def __init__(self, message: str, *, hint: str | None = None, **attrs: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        for key, value in attrs.items():
            setattr(self, key, value)


class TraceError(RubricateError):
    """A trace file or record could not be read. Attributes: path, line."""

    path: str | None = None
    line: int | None = None


class FormatError(TraceError):
    """No registered format claims a file, or two claim it with the same priority."""


class LoadIssueError(TraceError):
    """Raised instead of recording a load issue when loading with strict=True. Attribute: issue."""


class RubricError(RubricateError):
    """A rubric file or rubric name is invalid. Attributes: path, location."""

    path: str | None = None
    location: str | None = None


class UnknownCheckError(RubricError):
    """A rubric item names a check that is not registered. Attribute: name."""

    name: str | None = None


class CheckError(RubricateError):
    """A check was registered wrongly (duplicate name, bad signature)."""


class JudgeError(RubricateError):
    """A judge is configured wrongly: no model, a bad endpoint URL, a missing API key variable, an
    unusable cache directory or labels file. Attribute: path (when a file is at fault)."""

    path: str | None = None


class RunError(RubricateError):
    """A run directory is missing, incomplete, or written by an incompatible version. Attribute: path."""

    path: str | None = None


class AnalysisError(RubricateError):
    """An analysis of a run was asked for something the run cannot give: an outcome item it does not
    have, rewards it lacks, a SQL query DuckDB rejects. Attribute: name (the offending value)."""

    name: str | None = None


class RunLockedError(RunError):
    """Another process holds the run directory's lock (one writer at a time). Attribute: pid."""

    pid: int | None = None


class OutputError(RunError):
    """`--out` cannot hold this run: a directory that is not a run and not empty (without --force), a
    file, a place this user cannot write, or `--resume` with nothing to resume. A usage error."""


class EngineError(RubricateError):
    """A scoring engine or a storage back end cannot be used as asked: Ray is not installed for
    `--engine ray`, or no file system is installed for a URL's scheme (`s3://` needs s3fs). A usage
    error: the hint says what to install."""

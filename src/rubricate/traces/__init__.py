"""traces: load episode traces from any run into one typed Episode model."""

# The built-in readers register on import. Importing the `formats` subpackage binds the name
# `formats` on this package, so it comes first and the function below takes the name back.
from . import formats as _builtin_formats  # noqa: F401
from .files import Span
from ._loader import TraceFile, Traces, choose_format, find_trace_files, iter_traces, load_episodes, read_file
from ._model import Episode, LoadIssue, Role, Source, Step, ToolCall
from ._normalise import StepBuilder, as_float, looks_like_error, parse_arguments, scalar_text, text_of, tool_call
from ._registry import Detection, NotAnEpisode, RecordFormat, Sample, TraceFormat, detect, display_path, formats, \
    get_format, sample_of, trace_format, with_shared

__all__ = [
    "Detection", "Episode", "LoadIssue", "NotAnEpisode", "RecordFormat", "Role", "Sample", "Source", "Span",
    "Step", "StepBuilder", "ToolCall", "TraceFile", "TraceFormat", "Traces", "as_float", "choose_format", "detect",
    "display_path", "find_trace_files", "formats", "get_format", "iter_traces", "load_episodes", "looks_like_error",
    "parse_arguments", "read_file", "sample_of", "scalar_text", "text_of", "tool_call", "trace_format", "with_shared",
]

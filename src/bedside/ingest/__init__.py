"""Readers that turn source files into Documents, one module per format, and chunking."""

from bedside.ingest.chunking import chunk
from bedside.ingest.readers import FORMATS, RecordError, detect_format, read_path

__all__ = ["FORMATS", "RecordError", "chunk", "detect_format", "read_path"]

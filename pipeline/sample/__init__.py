"""Deterministic sample landing data for demos and tests (``pipeline sample``)."""

from pipeline.sample.generator import SampleSummary, WrittenFile, write_sample

__all__ = ["SampleSummary", "WrittenFile", "write_sample"]

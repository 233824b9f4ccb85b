"""The pack's data-quality appendix shows what a check measured, not when it ran."""

from dagster import MetadataValue

from pipeline.check_history import check_detail as _detail


def test_detail_keeps_measured_values_and_leaves_out_a_files_age():
    metadata = {
        "newest_file_age_days": MetadataValue.float(0.42),  # changes every time the check runs
        "newest_file_at": MetadataValue.text("2026-10-31T08:00:00+00:00"),
        "threshold_days": MetadataValue.int(45),
        "examples": MetadataValue.md("| a |\n|---|"),
    }
    assert _detail(metadata) == "newest file at 2026-10-31T08:00:00+00:00 · threshold days 45"

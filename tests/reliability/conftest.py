import dagster as dg
import pytest


@pytest.fixture(autouse=True)
def test_instance():
    """Dagster keeps a process-wide reference to the current instance while resolving
    definitions; each integration test gets its own, alive for the whole test."""
    with dg.instance_for_test() as instance:
        yield instance

"""The job fixtures (thread-backend settings) for the job kinds' tests."""

from tests.jobs.conftest import counter_kind, settings  # noqa: F401  (fixtures)

"""The job fixtures (thread-backend settings) for the job kinds' tests."""

from tests.jobs.conftest import settings  # noqa: F401  (a fixture)

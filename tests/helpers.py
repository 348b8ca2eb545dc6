"""Helpers shared by tests: bounded waiting."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 60.0, interval: float = 0.02, what: str = "") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds (never waits forever)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(interval)

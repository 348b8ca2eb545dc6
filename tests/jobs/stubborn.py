"""Test-only job kinds for worker processes: one that never looks at its cancel flag, one that ends at once.

A spawned worker imports this module to find the kind; it registers them
only where ``ARCHGEN_TEST_KINDS=1`` (the test sets it, and worker processes
inherit it), so that importing it elsewhere registers nothing.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack

from pydantic import BaseModel

from archgen.jobs import JobContext
from archgen.jobs.base import JobKind, job_kind_registry


class Params(BaseModel):
    seconds: float = 600.0
    #: A file the job creates once its one report has returned (past the report's own cancel check).
    marker: str | None = None


def stubborn(params: Params, ctx: JobContext) -> dict:
    """Reports once, then computes without reporting (a fit with no progress hook)."""
    ctx.progress(0.01, "started; will not report again")
    if params.marker:
        with open(params.marker, "w") as f:
            f.write(str(os.getpid()))
    end = time.monotonic() + params.seconds
    while time.monotonic() < end:
        time.sleep(0.05)
    return {"finished": True}


def quick(params: Params, ctx: JobContext) -> dict:
    return {"pid": os.getpid()}


KINDS = {
    "test_stubborn": JobKind("test_stubborn", stubborn, "ignores cancellation (test only)", Params, __name__),
    "test_quick": JobKind("test_quick", quick, "ends at once (test only)", Params, __name__),
}


def registered() -> ExitStack:
    """Register both kinds until the returned stack is closed."""
    stack = ExitStack()
    for name, kind in KINDS.items():
        stack.enter_context(job_kind_registry().temporarily(name, kind))
    return stack


if os.environ.get("ARCHGEN_TEST_KINDS") == "1":
    for _name, _kind in KINDS.items():
        if _name not in job_kind_registry().names():
            job_kind_registry().add(_name, _kind)

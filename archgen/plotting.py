"""Matplotlib's ``pyplot`` on the non-interactive Agg backend, imported on first use (it takes about a second)."""

from __future__ import annotations

from types import ModuleType


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` with the Agg backend selected (no display needed; safe in worker threads)."""
    import matplotlib  # lazy: about 1 s, paid only by the commands and routes that draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: as above

    return plt

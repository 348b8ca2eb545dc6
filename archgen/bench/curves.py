"""``archgen bench curves``: the learning-curve tables of the built-in new tasks (:mod:`archgen.curves.build`
builds them) and their label-free rankers: every ranker's values kept in the table's header (:func:`rank`) and its
Kendall tau against the cells' seed-mean validation accuracy (:func:`ranker_tau`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from archgen.bench.new_task import rankers, tau_of
from archgen.curves.table import CurveTable
from archgen.errors import BenchInputError, DataError
from archgen.services.task_prior import PRIOR_PROXIES, task_prior

if TYPE_CHECKING:
    from archgen.context import Workspace


def rank(data: Workspace, out: Path, say: Callable[[str], None] = lambda _m: None) -> CurveTable:
    """Score every candidate of the table ``out`` with every label-free ranker
    (:func:`archgen.bench.new_task.rankers`: the published columns of other image sets, the prior's zero-cost
    proxies on the task's images, their vote, the task's prior) and keep, in the table's header, their values (``rankers``) and
    the task prior's sources and values (``prior``: what ``archgen bench replay``'s ``prior-sh`` draws from)."""
    table = load(out)
    sp = data.space("nb201")
    archs = [sp.parse(c) for c in table.cells]
    values = rankers(data, table.task, archs, say, proxies=PRIOR_PROXIES)
    prior = task_prior(data, table.task)
    pv = prior.values(archs)
    fin = lambda v: [None if not np.isfinite(x) else round(float(x), 6) for x in v]
    table.meta["rankers"] = {k: fin(v) for k, v in values.items()}
    table.meta["prior"] = {
        "sources": [{"name": src.name, "group": src.group, "uses_labels": src.uses_labels,
                     "reference": [float(x) for x in src.reference]} for src in prior.model.sources],
        "values": {k: fin(pv[k]) for k in prior.model.names},
    }  # fmt: skip
    table.save(out)
    return table


def ranker_tau(table: CurveTable) -> dict[str, dict[str, float | None]]:
    """Kendall tau of every ranker kept in the table (:func:`rank`) and of what a search buys cheaply (one
    training's validation accuracy after 1 and 3 epochs, and at the end), against each cell's seed-mean final
    validation accuracy: over all cells with a complete training and over the top 10% of them."""
    truth = table.mean_val()
    ok = np.isfinite(truth)
    top = ok & (truth >= np.nanpercentile(truth, 90)) if ok.any() else ok
    out: dict[str, dict[str, float | None]] = {}
    cheap = {f"one training, {e} epoch{'s' if e > 1 else ''}": table.val[:, 0, e - 1]
             for e in sorted({1, min(3, table.epochs), table.epochs})}  # fmt: skip
    kept = {k: np.array([np.nan if x is None else x for x in v], dtype=float)
            for k, v in table.meta.get("rankers", {}).items()}  # fmt: skip
    for name, v in {**kept, **cheap}.items():
        out[name] = {"all": tau_of(v[ok], truth[ok]), "top10": tau_of(v[top], truth[top])}
    return out


def load(path: Path) -> CurveTable:
    """A curve table, or a :class:`BenchInputError` naming what is wrong with the file."""
    try:
        return CurveTable.load(path)
    except DataError as e:
        raise BenchInputError(str(e)) from None


__all__ = ["load", "rank", "ranker_tau"]

"""Learning-curve tables of tasks without a published table, and searches replayed against them.

* :mod:`archgen.curves.table`: the table format (cells x seeds x epochs x {validation, test, seconds}; one
  pickle-free ``.npz`` with a JSON header), written by ``archgen bench curves`` and read by
  :class:`CurveTable`;
* :mod:`archgen.curves.replay`: an :class:`~archgen.evaluators.base.Evaluator` answering from a table with
  simulated time, so the real search code runs unchanged against it in seconds.
"""

from archgen.curves.replay import ReplayClock, ReplayEvaluator, ReplayTrials
from archgen.curves.table import CURVES_FORMAT, CurveTable

__all__ = ["CURVES_FORMAT", "CurveTable", "ReplayClock", "ReplayEvaluator", "ReplayTrials"]

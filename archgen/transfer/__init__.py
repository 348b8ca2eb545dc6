"""Transfer to tasks without a table: label-free sources (other tasks' published accuracies, zero-cost proxies,
a supernet) combined into a prior that learns from the task's own evaluations."""

from archgen.transfer.prior import GROUPS, PoolPosterior, Source, SourcePrior, normal_scores

__all__ = ["GROUPS", "PoolPosterior", "Source", "SourcePrior", "normal_scores"]

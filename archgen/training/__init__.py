"""Training networks from scratch: the data pipeline, checkpoints, and the training evaluator's loop.

:func:`~archgen.training.trainer.train_architecture` trains one architecture's
network on a task's images (NB201's schedule by default) with progress,
checkpoints and resume, and saves its weights pickle-free with provenance.
"""

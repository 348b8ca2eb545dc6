"""Accuracy predictors (``archgen.predictors``).

Empty until the predictors issue lands: the package exists so that the
``archgen.predictors`` import namespace is mapped from ``predictors/``.
"""

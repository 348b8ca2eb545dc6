"""The composition root: registers every built-in kind, above the packages that define them.

Importing this module registers, once per process, the built-in artifact types (``predictor``,
``generator``, ``supernet``, ``fit-part``), predictors, generators, search strategies, evaluators and
job kinds, and the job kinds of installed packages (entry-point group ``archgen.jobs``). The HTTP
app (:func:`archgen.api.create_app`), the CLI and the job workers import it (a worker imports the
module named by :attr:`archgen.jobs.base.JobKind.module`, which is this one for built-in kinds); so
do library users who look kinds up by name::

    import archgen.composition  # noqa: F401  (registers the built-in kinds)
    from archgen.predictors import get_predictor

    get_predictor("lgbm")

The registries themselves (in :mod:`archgen.artifacts`, :mod:`archgen.jobs.base`,
:mod:`archgen.predictors.base`, :mod:`archgen.generators.base`, :mod:`archgen.search.strategies`,
:mod:`archgen.evaluators.base`) import none of their members: the layers point one way, from here
down. Search spaces and benchmark tables belong to the core and register themselves.
"""

from __future__ import annotations

import importlib
import threading
from importlib import metadata

from archgen.artifacts import ArtifactType, register_artifact_type
from archgen.curves.replay import ReplayEvaluator
from archgen.evaluators.base import register_evaluator
from archgen.evaluators.predictor import PredictorEvaluator
from archgen.evaluators.replicate import Replicated
from archgen.evaluators.supernet import SupernetEvaluator
from archgen.evaluators.table import BenchmarkEvaluator
from archgen.evaluators.training import TrainingEvaluator
from archgen.generators.base import register_generator, restore_generator
from archgen.generators.diffusion.generator import DiffusionGenerator
from archgen.generators.random import RandomGenerator
from archgen.jobs.base import ENTRY_POINT_GROUP, register_job
from archgen.predictors.base import register_predictor, restore_predictor
from archgen.predictors.ensemble import StackedEnsemblePredictor
from archgen.predictors.gnn import GNNPredictor
from archgen.predictors.gp import GPPredictor
from archgen.predictors.lgbm import LightGBMPredictor
from archgen.predictors.parzc import ParZCPredictor
from archgen.predictors.supernet import SupernetPredictor
from archgen.predictors.zc_ensemble import ZCLearnedPredictor, ZCVotePredictor, ZeroCostPredictor
from archgen.search.libraries import OptunaTPEHyperband
from archgen.search.multifidelity import (
    Hyperband,
    PriorBand,
    PriorSuccessiveHalving,
    SuccessiveHalving,
    register_multifidelity_strategy,
)
from archgen.search.multiobjective import MultiObjectiveBO
from archgen.search.robot import RoBoT
from archgen.search.strategies import (
    Bananas,
    BayesianOptimization,
    LocalSearch,
    RandomSearch,
    RegularizedEvolution,
    register_strategy,
)
from archgen.services.fit_monitor import PART_TYPE, restore_part
from archgen.services.jobs import BUILTIN_KINDS
from archgen.supernets.oneshot import restore_supernet

#: Built-in classes by kind, in the order they are registered.
PREDICTORS = (
    LightGBMPredictor,
    GPPredictor,
    GNNPredictor,
    ZeroCostPredictor,
    ZCVotePredictor,
    ZCLearnedPredictor,
    ParZCPredictor,
    StackedEnsemblePredictor,
    SupernetPredictor,
)
GENERATORS = (RandomGenerator, DiffusionGenerator)
STRATEGIES = (RandomSearch, RegularizedEvolution, LocalSearch, Bananas, BayesianOptimization, MultiObjectiveBO, RoBoT)
MULTIFIDELITY_STRATEGIES = (SuccessiveHalving, Hyperband, PriorSuccessiveHalving, PriorBand, OptunaTPEHyperband)
EVALUATORS = (BenchmarkEvaluator, PredictorEvaluator, SupernetEvaluator, TrainingEvaluator, ReplayEvaluator, Replicated)
ARTIFACT_TYPES = (
    ArtifactType("predictor", restore_predictor),
    ArtifactType("generator", restore_generator),
    ArtifactType("supernet", restore_supernet),
    ArtifactType(PART_TYPE, restore_part),
)

_LOCK = threading.Lock()
_DONE = False


def register_builtins() -> None:
    """Register every built-in kind and the job kinds of installed packages (idempotent)."""
    global _DONE
    with _LOCK:
        if _DONE:
            return
        for artifact_type in ARTIFACT_TYPES:
            register_artifact_type(artifact_type)
        for predictor in PREDICTORS:
            register_predictor(predictor)
        for generator in GENERATORS:
            register_generator(generator)
        for strategy in STRATEGIES:
            register_strategy(strategy)
        for mf in MULTIFIDELITY_STRATEGIES:
            register_multifidelity_strategy(mf)
        for evaluator in EVALUATORS:
            register_evaluator(evaluator)
        for spec in BUILTIN_KINDS:
            register_job(
                spec.name,
                spec.description,
                spec.params,
                max_runtime_s=spec.max_runtime_s,
                module=__name__,
                keeps_files=spec.keeps_files,
            )(spec.run)
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            # a plugin's module registers its kinds on import (register_job as a decorator)
            importlib.import_module(ep.value.split(":")[0])
        _DONE = True


register_builtins()

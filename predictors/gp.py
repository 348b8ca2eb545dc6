"""Gaussian-process regression on architecture encodings.

Exact GP (Rasmussen & Williams, 2006) via BoTorch/GPyTorch. The kernel is the
sum of a categorical (overlap) kernel on the one-hot encoding of the canonical
cell, as in COMBO / CoCaBO-style BO over categorical spaces (Ru et al.,
"Bayesian Optimisation over Multiple Continuous and Categorical Inputs",
ICML 2020; BoTorch's ``CategoricalKernel``), and a Matérn-5/2 ARD kernel on
standardised label-free measurements (params, FLOPs, zero-cost scores):

.. math::
    k(x, x') = s_1 \\exp\\Big(-\\frac{1}{d}\\sum_{j=1}^{d} \\frac{[x_j \\ne x'_j]}{\\ell_j}\\Big)
             + s_2\\, \\mathrm{Matern}_{5/2}(z, z')

Hyperparameters maximise the exact marginal likelihood; the predictive std is
the exact posterior std including observation noise.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch
from botorch.exceptions.errors import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.kernels import CategoricalKernel
from botorch.models.transforms import Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import GammaPrior

from archgen.arch import Arch
from archgen.predictors.base import (
    Capabilities,
    FitMonitor,
    Predictor,
    PredictorState,
)
from archgen.predictors.features import Standardizer, label_free_features
from archgen.predictors.hyperparams import ZC_SOURCE, Param
from archgen.spaces import get_space


def _build_model(X: torch.Tensor, Y: torch.Tensor, n_cat: int, ard: bool = True):
    d = X.shape[-1]
    cat = ScaleKernel(CategoricalKernel(ard_num_dims=n_cat if ard else None, active_dims=list(range(n_cat))))
    kernel = cat
    if d > n_cat:
        cont = ScaleKernel(
            MaternKernel(
                nu=2.5,
                ard_num_dims=d - n_cat if ard else None,
                active_dims=list(range(n_cat, d)),
                lengthscale_prior=GammaPrior(3.0, 1.0),
            )
        )
        kernel = cat + cont
    return SingleTaskGP(X, Y, covar_module=kernel, outcome_transform=Standardize(m=1))


_FIT_OPTIONS = {"options": {"maxiter": 150}}


class GPPredictor(Predictor):
    """Exact GP with a categorical + Matérn kernel.

    Args:
        task: Task whose label-free measurements feed the Matérn part
            (required unless ``zc="none"``).
        zc: Zero-cost feature source (``"none"``, ``"table"``, ``"computed"``).
        max_train: Training points beyond this are subsampled (exact GPs cost
            O(n^3)).
        random_state: Seed for that subsample and the optimiser's restarts.
    """

    name = "gp"
    capabilities = Capabilities(has_uncertainty=True, min_train=4)
    hyperparameters: ClassVar[Mapping[str, Param]] = {"zc": ZC_SOURCE, "max_train": Param("int", 4, 5000, cost=True)}
    paper = "Ru et al., Bayesian Optimisation over Multiple Continuous and Categorical Inputs, ICML 2020"

    def __init__(
        self,
        task: str | None = None,
        zc: str = "table",
        max_train: int = 1000,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.zc = zc
        self.max_train = max_train
        self.random_state = random_state

    def _inputs(self, archs: list[Arch], fit: bool = False) -> torch.Tensor:
        """One-hot of the canonical cell (columns varying in training) and standardised features."""
        space = get_space(archs[0].space)
        onehot = space.encode([space.canonical(a) for a in archs], "onehot")
        if fit:
            self.cat_cols_ = np.flatnonzero(onehot.std(0) > 0)
            self.n_cat_ = len(self.cat_cols_)
        parts = [onehot[:, self.cat_cols_]]
        if self.zc != "none":
            extra = label_free_features(archs, self.task, self.zc, self.data)
            if fit:
                self.scaler_ = Standardizer().fit(extra)
            parts.append(self.scaler_.transform(extra))
        return torch.as_tensor(np.concatenate(parts, 1), dtype=torch.float64)

    def _fit(self, archs: list[Arch], y: np.ndarray, monitor: FitMonitor) -> None:
        rng = np.random.default_rng(self.random_state)
        if len(archs) > self.max_train:
            keep = np.sort(rng.choice(len(archs), self.max_train, replace=False))
            archs, y = [archs[i] for i in keep], y[keep]
        X = self._inputs(archs, fit=True)
        Y = torch.as_tensor(y, dtype=torch.float64).unsqueeze(-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # botorch reports each failed attempt as a warning
            for ard in (True, False):  # ARD lengthscales can be ill-posed on few points: then share them
                model = _build_model(X, Y, self.n_cat_, ard=ard)
                try:
                    # one deterministic attempt from the prior's initial values: botorch's
                    # retries resample hyperparameters from torch's global generator
                    fit_gpytorch_mll(
                        ExactMarginalLogLikelihood(model.likelihood, model),
                        optimizer_kwargs=_FIT_OPTIONS,
                        max_attempts=1,
                    )
                    break
                except ModelFittingError:
                    if not ard:
                        raise
                monitor.progress(0.5, "ARD fit failed; shared lengthscales")
        self.ard_ = ard
        model.eval()
        self.model_ = model
        self.train_X_, self.train_Y_ = X.numpy(), Y.numpy()

    def _predict(self, archs: list[Arch]) -> tuple[np.ndarray, np.ndarray | None]:
        X = self._inputs(archs)
        means, stds = [], []
        with torch.no_grad():
            for chunk in torch.split(X, 256):  # the posterior of a chunk is a dense chunk x chunk covariance
                post = self.model_.posterior(chunk, observation_noise=True)
                means.append(post.mean.squeeze(-1).numpy())
                stds.append(post.variance.clamp_min(0).sqrt().squeeze(-1).numpy())
        return np.concatenate(means), np.concatenate(stds)

    def get_state(self) -> PredictorState:
        self._require_fitted()
        arrays = {
            "train_X": self.train_X_,
            "train_Y": self.train_Y_,
            "cat_cols": self.cat_cols_,
            **{f"param/{k}": v.detach().numpy() for k, v in self.model_.state_dict().items()},
        }
        if self.zc != "none":
            arrays.update(self.scaler_.get_arrays())
        return PredictorState(meta={"n_cat": self.n_cat_, "ard": self.ard_}, arrays=arrays)

    def set_state(self, state: PredictorState) -> None:
        a = state.arrays
        self.cat_cols_ = a["cat_cols"].astype(np.int64)
        self.n_cat_ = int(state.meta["n_cat"])
        if self.zc != "none":
            self.scaler_ = Standardizer.from_arrays(a)
        X, Y = torch.as_tensor(a["train_X"]), torch.as_tensor(a["train_Y"])
        self.ard_ = bool(state.meta["ard"])
        model = _build_model(X, Y, self.n_cat_, ard=self.ard_)
        model.load_state_dict({k[len("param/") :]: torch.as_tensor(v) for k, v in a.items() if k.startswith("param/")})
        model.eval()
        self.model_, self.train_X_, self.train_Y_ = model, a["train_X"], a["train_Y"]
        self.fitted_ = True

"""Any archgen predictor with uncertainty as a BoTorch model, so BoTorch's acquisition functions can use it.

:class:`PredictorModel` implements ``botorch.models.model.Model.posterior``:
for input rows (the search's encoding of architectures) it looks the
architectures up, asks the fitted predictor for its mean and standard
deviation, and returns independent normals (a ``GPyTorchPosterior`` over a
``MultivariateNormal`` with diagonal covariance). qLogNEI, qUCB and Thompson
sampling then run on LightGBM's bagged spread, the GNN's ensemble or the
stacked ensemble exactly as on a GP. BO uses it with ``surrogate="lgbm"`` (or
any registered predictor that has uncertainty); the predictor is refitted on
the search's own evaluations every batch, never loaded from the model store
(the service's defaults were trained on the task's labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator

from archgen.arch import Arch

if TYPE_CHECKING:
    from archgen.predictors.base import Predictor


class PredictorModel(Model):
    """A fitted predictor as a one-output BoTorch model over encoded architectures.

    Args:
        predictor: A fitted archgen predictor (``capabilities.has_uncertainty``).
        archs: Every architecture the model may be asked about (observed and candidates).
        X: Their encodings, one row each, in the same order (the rows BoTorch passes back).
        min_std: Floor of the standard deviation (a predictor sure of a point still leaves room to explore).
    """

    num_outputs = 1

    def __init__(self, predictor: Predictor, archs: Sequence[Arch], X: torch.Tensor, min_std: float = 1e-6) -> None:
        super().__init__()
        self.predictor = predictor
        self.min_std = min_std
        self._rows = {self._key(x): a for x, a in zip(X, archs, strict=True)}
        self._cache: dict[bytes, tuple[float, float]] = {}

    @staticmethod
    def _key(x: torch.Tensor) -> bytes:
        return x.detach().to(torch.float64).contiguous().numpy().tobytes()

    def _moments(self, flat: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        keys = [self._key(x) for x in flat]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            try:
                archs = [self._rows[k] for k in todo]
            except KeyError:
                raise ValueError("PredictorModel was asked about a row that is not one of its architectures") from None
            mean, std = self.predictor.predict_with_uncertainty(archs)
            for k, m, s in zip(todo, mean.tolist(), std.tolist(), strict=True):
                self._cache[k] = (m, max(s, self.min_std))
        out = np.array([self._cache[k] for k in keys], dtype=np.float64).reshape(-1, 2)
        return out[:, 0], out[:, 1]

    def posterior(
        self,
        X: torch.Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | torch.Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> GPyTorchPosterior:
        """Independent normals ``N(mean, std^2)`` over the last-but-one dimension (``batch x q x d`` input)."""
        batch = X.shape[:-1]
        mean, std = self._moments(X.reshape(-1, X.shape[-1]))
        m = torch.as_tensor(mean, dtype=X.dtype).reshape(batch)
        var = torch.as_tensor(std**2, dtype=X.dtype).reshape(batch)
        post = GPyTorchPosterior(MultivariateNormal(m, DiagLinearOperator(var)))
        return posterior_transform(post) if posterior_transform is not None else post

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size([])


__all__ = ["PredictorModel"]

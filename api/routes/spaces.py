"""Search spaces, their operations, tasks and metrics."""

from __future__ import annotations

from fastapi import APIRouter

from archgen.api.schemas import SpacesResponse
from archgen.api.state import Key, State
from archgen.datasets import list_tables
from archgen.predictors.zerocost import SUPPORTED_SPACES

router = APIRouter(prefix="/v1", tags=["spaces"])


@router.get("/spaces", response_model=SpacesResponse)
def spaces(state: State, _: Key) -> dict:
    """Every space with a benchmark table: operations, tasks, metrics, default predictors."""
    out = []
    for name in list_tables():
        table = state.table(name)
        space = state.space(name)
        tasks = {
            t: {
                "metrics": table.metrics(t),
                "default_predictor": f"{name}/{t}" if (name, t) in state.models.defaults else None,
            }
            for t in table.tasks()
        }
        out.append(
            {
                "name": name,
                "operations": list(space.op_names),
                "num_architectures": table.num_rows,
                "tasks": tasks,
                "zero_cost": name in SUPPORTED_SPACES,
            }
        )
    return {"spaces": out}

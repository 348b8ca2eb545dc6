"""Quick (10 epochs, no validity probe) vs full (200 epochs) NB201 generator: validity, uniqueness, novelty, and
the mean published accuracy of 100 guided samples (cifar10-valid val_acc; 156 labelled cells), 2 seeds each.

    python benchmarks/bench_quick_generator.py train   # the full generator into $ARCHGEN_HOME's store (~10 min)
    python benchmarks/bench_quick_generator.py compare # the table (trains the quick one when missing)
"""

import sys
import time

import numpy as np
import torch

import archgen.composition  # noqa: F401  (registers the built-in kinds)
from archgen.context import workspace
from archgen.services.generate import generate, space_generator
from archgen.services.requests import GenerateRequest
from archgen.settings import Settings

torch.set_num_threads(2)
s = Settings.from_env()
ws = workspace(s.paths)
if sys.argv[1] == "train":
    t0 = time.perf_counter()
    space_generator(ws, ws.models, "nb201", epochs=200, steps=200, seed=0)
    print(f"full generator trained in {time.perf_counter() - t0:.0f} s", flush=True)
    sys.exit()
rows = {}
for stage, kw in (("quick", dict(generator_epochs=10)), ("full", dict(generator_epochs=200))):
    for guided in (True, False):
        for seed in (0, 1):
            t0 = time.perf_counter()
            r = generate(GenerateRequest(n=100, seed=seed, guidance_scale=20.0 if guided else 0.0), ws, ws.models, **kw)
            acc = np.mean([g.measured for g in r.items if g.measured is not None])
            rows.setdefault((stage, guided), []).append(
                (acc, r.validity, r.uniqueness, r.novelty, time.perf_counter() - t0, r.generator_stage)
            )
for (stage, guided), v in rows.items():
    a = np.array([x[:5] for x in v])
    print(
        f"{stage:5s} {'guided' if guided else 'unguided':8s} acc {a[:, 0].mean():.2f} ± {a[:, 0].std():.2f}  validity {a[:, 1].mean():.3f}  uniqueness {a[:, 2].mean():.3f}  novelty {a[:, 3].mean():.3f}  s/request {a[:, 4].mean():.1f}  generator {v[0][5]}"
    )

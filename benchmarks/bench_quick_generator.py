"""Quick (`QUICK_GENERATOR_EPOCHS`, no validity probe) vs full (200 epochs) NB201 generator: validity, uniqueness, novelty, and
the mean published accuracy of 100 guided samples (cifar10-valid val_acc; 156 labelled cells), 2 seeds each.

    python benchmarks/bench_quick_generator.py train   # the full generator into $ARCHGEN_HOME's store (~10 min)
    python benchmarks/bench_quick_generator.py compare # the table (trains the quick one when missing)
    python benchmarks/bench_quick_generator.py sweep --configs 10:100,4:30 --guidance 20,0 --seeds 0,1
        # a first request's settings: n=100 under max_params 0.8, per (generator epochs : constraint-fit epochs)
"""

import argparse
import sys
import time

import numpy as np
import torch

import archgen.composition  # noqa: F401  (registers the built-in kinds)
import archgen.services.generate as generate_module
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
if sys.argv[1] == "sweep":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--configs", default="10:100,4:30", help="generator epochs:constraint surrogate epochs, ...")
    ap.add_argument("--guidance", default="20", help="guidance scales (0: unguided)")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(
        "| generator epochs | constraint epochs | guidance | acc (%) | validity | uniqueness | met before rejection "
        "| drawn | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for qe, ce in (tuple(int(x) for x in c.split(":")) for c in a.configs.split(",")):
        for scale in (float(v) for v in a.guidance.split(",")):
            generate_module.CONSTRAINT_EPOCHS = ce
            res = []
            for seed in (int(v) for v in a.seeds.split(",")):
                t0 = time.perf_counter()
                req = GenerateRequest(n=100, seed=seed, guidance_scale=scale, constraints={"max_params": 0.8})
                r = generate(req, ws, ws.models, generator_epochs=qe)
                acc = np.mean([g.measured for g in r.items if g.measured is not None])
                res.append((acc, r.validity, r.uniqueness, r.met_before_rejection, r.drawn, time.perf_counter() - t0))
            m, sd = np.mean(res, axis=0), np.std(res, axis=0)
            print(
                f"| {qe} | {ce} | {scale:g} | {m[0]:.2f} ± {sd[0]:.2f} | {m[1]:.3f} | {m[2]:.3f} "
                f"| {m[3]:.3f} ± {sd[3]:.3f} | {m[4]:.0f} | {m[5]:.0f} |",
                flush=True,
            )
    sys.exit()
rows = {}
for stage, kw in (("quick", dict(generator_epochs=s.quick_generator_epochs)), ("full", dict(generator_epochs=200))):
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

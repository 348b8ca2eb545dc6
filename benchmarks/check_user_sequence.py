"""The README's user-task sequence from the CLI, on a new task: no traceback, and a model a user can load.

Run: ``python benchmarks/check_user_sequence.py --data-dir ../shared/data --out bench-out/user-sequence``

A new task (CIFAR-10's dog, horse and truck training images, 250 a class, as a folder of PNG files with a stray
text file in it) goes through ``archgen tasks add``, ``archgen search --evaluator training --budget-minutes M
--final-epochs E --checkpoint DIR/pets.json`` (each command a fresh process; any traceback fails the check), then
``archgen predict-images --model RUN`` on every image file and ``archgen export-onnx --model RUN``. Printed: the
search's figures, the accuracy of predict-images on the task's validation and test files (each must equal the
final training's reported validation and test accuracy: the files are decoded as the task's images were), and how many validation images
the ONNX export (run by onnxruntime) classifies as PyTorch does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLASSES = ("dog", "horse", "truck")
PER_CLASS = 250


def _run(args: list[str]) -> str:
    out = subprocess.run([sys.executable, "-m", "archgen.cli.main", *args], capture_output=True, text=True)
    if out.returncode != 0 or "Traceback" in out.stderr:
        raise SystemExit(f"archgen {' '.join(args[:8])}... failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/user-sequence"))
    ap.add_argument("--budget-minutes", type=float, default=3.0)
    ap.add_argument("--final-epochs", type=int, default=20)
    args = ap.parse_args()
    from PIL import Image

    from archgen.context import Paths, workspace

    root = args.out.resolve()
    shutil.rmtree(root, ignore_errors=True)
    (root / "searches").mkdir(parents=True)
    base = [
        "--data-dir",
        str(args.data_dir.resolve()),
        "--cache-dir",
        str(root / "cache"),
        "--home",
        str(root / "home"),
    ]
    train = workspace(Paths.of(args.data_dir.resolve(), root / "cache", root / "scratch")).cifar10("train")
    images = root / "my-images"
    for c in CLASSES:
        (images / c).mkdir(parents=True)
        for i in np.flatnonzero(train.labels == train.classes.index(c))[:PER_CLASS]:
            Image.fromarray(train.images[i]).save(images / c / f"{i:05d}.png")
    (images / "dog" / "README.txt").write_text("not an image")
    t0 = time.time()
    added = _run([*base, "tasks", "add", "pets", "--images", str(images)])
    ckpt = root / "searches" / "pets.json"
    search = json.loads(_run([*base, "search", "--task", "pets", "--evaluator", "training", "--budget-minutes",
                              str(args.budget_minutes), "--final-epochs", str(args.final_epochs), "--checkpoint",
                              str(ckpt), "--json"]))["search"]  # fmt: skip
    final = search["result"]["final"]
    run = Path(final["model"]).parent
    files = sorted(images.rglob("*.png"))
    pred = json.loads(_run([*base, "predict-images", "--model", str(run), *map(str, files), "--json"]))
    onnx = json.loads(_run([*base, "export-onnx", "--model", str(run), "--json"]))["onnx"]

    import onnxruntime as ort

    from archgen.tasks.store import TaskStore
    from archgen.training.model import load_model

    store = TaskStore(root / "home" / "tasks")
    arrays, labels, val, test = store.arrays("pets")
    model = load_model(run)
    by_file = {p["file"]: p["class"] for p in pred["predictions"]}
    order = [str(p) for p in files]  # the task's arrays follow the folder's sorted scan: class, then file name
    acc = 100.0 * np.mean([model.card.classes.index(by_file[order[i]]) == labels[i] for i in np.flatnonzero(val)])
    test_acc = 100.0 * np.mean([model.card.classes.index(by_file[order[i]]) == labels[i] for i in np.flatnonzero(test)])
    x = model.preprocess(arrays[val])
    sess = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    agree = int((sess.run(None, {"images": x.numpy()})[0].argmax(1) == model.logits(x).numpy().argmax(1)).sum())
    out = {
        "added": added.strip().splitlines(),
        "spent_s": search["spent_seconds"],
        "budget_s": args.budget_minutes * 60,
        "trainings": search["evaluations"],
        "best": search["best"],
        "final": {k: final.get(k) for k in ("epochs", "value", "val_acc", "test_acc")},
        "predict_images_val_acc": acc,
        "predict_images_test_acc": test_acc,
        "onnx_agree": f"{agree}/{int(val.sum())}",
        "card": {k: model.card.to_json()[k] for k in ("classes", "image_size", "resolution", "mean", "std")},
        "wall_s": time.time() - t0,
        "machine": f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores",
    }
    (root / "result.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    if abs(acc - final["val_acc"]) > 1e-6 or abs(test_acc - final["test_acc"]) > 1e-6 or agree != int(val.sum()):
        raise SystemExit("the loaded model does not reproduce the training's accuracy, or ONNX disagrees")


if __name__ == "__main__":
    main()

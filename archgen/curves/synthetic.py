"""Image folders of generated tasks unlike CIFAR photographs (for ``archgen bench curves``).

Each writer makes ``folder/<class>/<index>.png``, a labelled image folder as a user would register, determined by
its seed (numpy's generator; nothing is downloaded):

* :func:`write_shapes`: rendered shapes (``circle``, ``ring``, ``square``, ``triangle``, ``cross``, ``bar``) of
  random size, position, rotation and colours on a noisy background with a distractor blob: classes by geometry,
  not by colour or texture;
* :func:`write_signals`: log-magnitude spectrograms of generated one-second signals (``tone``, ``chirp-up``,
  ``chirp-down``, ``am``, ``fm``, ``pulses``) of random frequencies and rates in noise of random strength: images
  whose axes are time and frequency, with nothing of a photograph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.signal import spectrogram

SHAPES = ("circle", "ring", "square", "triangle", "cross", "bar")
SIGNALS = ("tone", "chirp-up", "chirp-down", "am", "fm", "pulses")
#: Side the writers render at (a task resizes to its own image size when registered).
RENDER = 32


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, size=3))  # type: ignore[return-value]


def _shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, angle: float, fill: tuple) -> None:
    def rot(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        c, s = np.cos(angle), np.sin(angle)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]

    w = max(1.5, r / 3)
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif kind == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=round(w))
    elif kind == "square":
        draw.polygon(rot([(-r, -r), (r, -r), (r, r), (-r, r)]), fill=fill)
    elif kind == "triangle":
        draw.polygon(rot([(0, -r), (r * 0.87, r * 0.5), (-r * 0.87, r * 0.5)]), fill=fill)
    elif kind == "cross":
        draw.polygon(rot([(-r, -w / 2), (r, -w / 2), (r, w / 2), (-r, w / 2)]), fill=fill)
        draw.polygon(rot([(-w / 2, -r), (w / 2, -r), (w / 2, r), (-w / 2, r)]), fill=fill)
    else:  # bar
        draw.polygon(rot([(-r, -w / 2), (r, -w / 2), (r, w / 2), (-r, w / 2)]), fill=fill)


def write_shapes(folder: Path, per_class: int, seed: int = 0) -> None:
    """``per_class`` rendered images of each of :data:`SHAPES` under ``folder`` (module docstring)."""
    rng = np.random.default_rng([seed, 1])
    for k, kind in enumerate(SHAPES):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            bg, fg = _colour(rng), _colour(rng)
            while sum(abs(a - b) for a, b in zip(bg, fg, strict=True)) < 150:
                fg = _colour(rng)
            im = Image.new("RGB", (RENDER, RENDER), bg)
            d = ImageDraw.Draw(im)
            bx, by = rng.uniform(2, RENDER - 2, size=2)  # a distractor blob of a third colour
            br = rng.uniform(1.5, 3.5)
            d.ellipse((bx - br, by - br, bx + br, by + br), fill=_colour(rng))
            r = rng.uniform(6, 11)
            cx, cy = rng.uniform(r, RENDER - r, size=2)
            _shape(d, kind, cx, cy, r, rng.uniform(0, np.pi), fg)
            arr = np.asarray(im, dtype=np.float64) + rng.normal(0, rng.uniform(5, 30), size=(RENDER, RENDER, 3))
            Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(folder / kind / f"{k}-{i:05d}.png")


def _signal(kind: str, rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    f0 = rng.uniform(100, 800)
    if kind == "tone":
        return np.sin(2 * np.pi * f0 * t)
    if kind in ("chirp-up", "chirp-down"):
        f1 = f0 + rng.uniform(150, 500)
        lo, hi = (f0, f1) if kind == "chirp-up" else (f1, f0)
        return np.sin(2 * np.pi * (lo * t + (hi - lo) * t**2 / 2))
    if kind == "am":
        return (1 + 0.9 * np.sin(2 * np.pi * rng.uniform(3, 12) * t)) * np.sin(2 * np.pi * f0 * t) / 1.9
    if kind == "fm":
        dev, rate = rng.uniform(60, 200), rng.uniform(2, 8)
        return np.sin(2 * np.pi * f0 * t + dev / rate * np.sin(2 * np.pi * rate * t))
    period = rng.uniform(0.08, 0.25)  # pulses: tone bursts
    on = (np.mod(t + rng.uniform(0, period), period) < period * rng.uniform(0.2, 0.5)).astype(float)
    return on * np.sin(2 * np.pi * f0 * t)


def write_signals(folder: Path, per_class: int, seed: int = 0, rate: int = 2048) -> None:
    """``per_class`` spectrogram images of each of :data:`SIGNALS` under ``folder`` (module docstring)."""
    rng = np.random.default_rng([seed, 2])
    t = np.arange(rate) / rate
    for k, kind in enumerate(SIGNALS):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            x = _signal(kind, rng, t) * rng.uniform(0.3, 1.0) + rng.normal(0, rng.uniform(0.2, 1.0), size=len(t))
            _, _, s = spectrogram(x, fs=rate, nperseg=64, noverlap=0)
            s = np.log(s[1 : RENDER + 1] + 1e-6)  # frequency bins 1..32 (up to 1 kHz), 32 frames
            s = (s - s.min()) / max(float(np.ptp(s)), 1e-9)
            img = Image.fromarray((255 * s[::-1]).astype(np.uint8), mode="L").resize((RENDER, RENDER), Image.BILINEAR)
            img.save(folder / kind / f"{k}-{i:05d}.png")


__all__ = ["SHAPES", "SIGNALS", "write_shapes", "write_signals"]

"""The tiny hardness run several tests make from the command line (one tanh net of depth 1, 3 epochs, 12 digits
per class): seconds, yet a whole run with arrays, cached results and a progress bar."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = (
    "--dataset",
    "digits",
    "--depths",
    "1",
    "--activations",
    "tanh",
    "--runs",
    "1",
    "--epochs",
    "3",
    "--per-class",
    "12",
    "--perplexity",
    "10",
    "--jobs",
    "1",
)


def command(store_dir: Path) -> list[str]:
    """``python -m models.studies.hardness`` with the tiny run's flags, writing into ``store_dir``."""
    return [sys.executable, "-m", "models.studies.hardness", *ARGS, "--store-dir", str(store_dir)]


def run(store_dir: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run :func:`command` to its end in the repository root (text output captured, 300 s at most)."""
    return subprocess.run(command(store_dir), cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)


def in_process(store_dir: Path, per_class: int = 20):
    """A one-layer ReLU hardness run on digits made in this process (2 epochs, a 50-iteration t-SNE): the small
    Layers tab the browser tests draw, select in and hide classes of; returns the run."""
    from models.store import RunStore
    from models.studies import study

    hard = study("hardness")
    config = hard.Config(
        dataset="digits",
        depths=(1,),
        activations=("relu",),
        runs=1,
        epochs=2,
        per_class=per_class,
        tsne_iter=50,
        n_jobs=1,
    )
    return hard.run(config, store=RunStore(store_dir))

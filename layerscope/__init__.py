"""LayerScope's Python API, importable under its own name (your repository may well have a
``models`` package of its own).

Capture a model's layers on a dataset from a training script, one step per checkpoint, the way
TensorBoard's ``SummaryWriter.add_embedding`` is called::

    from layerscope import Capture

    with Capture("runs", dataset="digits", model=net, layers=["conv1", "fc1"]) as cap:
        for epoch in range(10):
            train_one_epoch(net)
            cap.add(step=epoch)
    # python app.py --store-dir runs   → Layers / Hardness / Explore show the run

Compare layers, checkpoints or two models on the same samples (CKA, probes, movers)::

    result = layerscope.compare(run_a, run_b)     # a run of kind compare; result.cka, result.probe …

Readers of a finished run (``layers``, ``steps``, ``activations``, ``sample``) are re-exported
from the capture study; the on-disk format is in docs/capture-format.md.
"""

from __future__ import annotations

from layerscope._loader import module as _module
from layerscope.api import Capture, compare, load_run

_capture = _module("studies.capture")  # ours, never the `models` of the repository you run from
activations, class_names, layers, sample, steps = (
    _capture.activations,
    _capture.class_names,
    _capture.layers,
    _capture.sample,
    _capture.steps,
)

__all__ = ["Capture", "compare", "load_run", "layers", "steps", "activations", "sample", "class_names"]

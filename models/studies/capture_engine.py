"""The capture study's engine: load each model file (one step each), stream its layers to one run."""

from __future__ import annotations

from .. import datasets
from ..capture import formats
from ..capture.capture import CaptureWriter
from ..progress import ProgressFn, scaled
from .base import with_split
from .capture import KIND, Config


def run(config: Config, *, store, data_dir=None, progress: ProgressFn | None = None):
    config = with_split(config, data_dir)  # the split captured (train, or the one present) goes into the manifest
    ds = datasets.load(
        config.dataset,
        data_dir=data_dir,
        split=config.split,
        per_class=config.per_class,
        limit=config.limit,
        seed=config.seed,
        normalize=False,
    )
    model_dir = formats.model_dir_of(data_dir, config.model_dir)
    options = {
        "input_shape": config.input_shape,
        "normalisation": config.normalisation,
        "mean": config.mean,
        "std": config.std,
        "resize": config.resize,
    }
    n_steps = len(config.model)
    with store.writer(KIND, dataset=config.dataset, config=config.record(), seed=config.seed) as writer:
        capture = CaptureWriter(writer, ds, float16=config.float16, pooling=config.pooling, options=options)
        for i, (spec, step) in enumerate(zip(config.model, config.step_values)):
            model = formats.load(
                spec,
                model_dir=model_dir,
                weights=config.weights,
                allow_factory=config.allow_factory,
                device=config.device,
            )
            capture.add_step(
                step,
                model,
                config.layers,
                batch_size=config.batch_size,
                progress=scaled(progress, i / n_steps, (i + 1) / n_steps),
            )
        capture.finish()
    return store.load(writer.id)

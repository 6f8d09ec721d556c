"""Capturing a person's own model: load it (:mod:`.formats`), list its layers (:mod:`.layers`),
fit the dataset to its input (:mod:`.adapt`) and stream chosen layers to a run (:mod:`.capture`).

Heavy (torch, onnx): imported by the capture engine and the ``layerscope`` API, never by faces.
"""

from .formats import ModelError, load, model_dir_of, model_path

__all__ = ["ModelError", "load", "model_dir_of", "model_path"]

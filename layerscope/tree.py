"""``layerscope layers MODEL``: the layer tree of a model file, with the default selection marked."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="layerscope layers", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model file in the models folder, or package.module:function")
    parser.add_argument("--model-dir", default=None, help="models folder (default: <data-dir>/models)")
    parser.add_argument("--data-dir", default="data", help="folder holding the datasets' files")
    parser.add_argument("--dataset", default="digits", help="dataset whose samples probe the model")
    parser.add_argument("--input-shape", type=int, nargs="+", default=None, help="model input per sample")
    parser.add_argument(
        "--pooling", default="mean", help="pooling spec each line's result follows, e.g. 'mean, blocks.1=cls'"
    )
    args = parser.parse_args(argv)
    from layerscope._loader import module

    datasets, formats = module("datasets"), module("capture.formats")
    plan_input, probe = module("capture.adapt").plan_input, module("capture.capture").probe
    default_layers, describe = module("capture.layers").default_layers, module("capture.layers").describe
    user_error = module("errors").UserError  # a bad dataset, model or layer; anything else is a bug (traceback)

    try:
        ds = datasets.load(args.dataset, data_dir=args.data_dir, limit=8, normalize=False)
        model = formats.load(
            args.model, model_dir=formats.model_dir_of(args.data_dir, args.model_dir), allow_factory=True
        )
        tree = probe(
            model, ds, plan_input(ds, args.input_shape or model.input_shape, source=model.source, inputs=model.inputs)
        )
        lines = describe(tree, args.pooling)
    except user_error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chosen = set(default_layers(tree))
    for layer, line in zip(tree, lines):
        print(("* " if layer.name in chosen else "  ") + line)
    print("(* = captured by default)")
    return 0

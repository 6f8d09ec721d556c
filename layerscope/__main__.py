"""``layerscope``: the console command. ``layerscope app …`` starts the app; ``layerscope capture …``
(or any study kind) runs that study's command line; ``layerscope layers MODEL`` prints a model's
layer tree."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from layerscope._loader import module

    STUDIES, study = module("studies").STUDIES, module("studies").study

    commands = ("app", "layers") + STUDIES
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(
            f"usage: layerscope {{{','.join(commands)}}} [options]\n"
            "  app       the LayerScope app (python app.py --help)\n"
            "  layers    print a model file's layer tree: layerscope layers MODEL [--model-dir DIR] [--dataset NAME]\n"
            "  <study>   run a study from the command line, e.g. "
            "layerscope capture --model my_cnn.onnx --dataset digits",
            file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout,
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "app":
        import runpy
        from pathlib import Path

        app = Path(__file__).resolve().parent.parent / "app.py"
        sys.argv = [str(app)] + rest
        runpy.run_path(str(app), run_name="__main__")
        return 0
    if command == "layers":
        from layerscope.tree import main as tree_main

        return tree_main(rest)
    return int(study(command).main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())

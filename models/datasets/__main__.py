"""``python -m models.datasets``: list the datasets (present or missing), download one with
checksums, or load one and print its size, dimensions and classes. Errors print one
``error:`` line and exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from . import DEFAULT_DATA_DIR, DatasetError, available, describe, discover, download, downloadable, load, presence


def _print_list(data_dir: Path) -> None:
    print(f"built-in datasets (data directory: {data_dir}):")
    for name in available():
        state = presence(name, data_dir)
        print(f"  {name:<14} {state:<10} {describe(name).description}")
    found = discover(data_dir)
    print("your datasets:" if found else f"your datasets: none found in {data_dir}")
    for name in found:
        print(f"  {name}")


def _print_check(name: str, data_dir: Path, split: str) -> None:
    ds = load(name, data_dir=data_dir, split=split)
    counts = np.bincount(ds.labels, minlength=ds.n_classes)
    shown = ", ".join(f"{c} ({n})" for c, n in zip(ds.class_names[:12], counts[:12].tolist()))
    more = f", … {ds.n_classes - 12} more" if ds.n_classes > 12 else ""
    print(f"{ds.name} [{ds.split}] from {ds.source}")
    print(f"  n={ds.n} samples, dims={ds.dim}, images={ds.image_shape}")
    print(f"  classes={ds.n_classes}: {shown}{more}")
    for warning in ds.meta.get("warnings", [])[:10]:
        print(f"  warning: {warning}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m models.datasets``: list, download or check datasets; errors exit 2."""
    from ..progress import Cancelled, console

    parser = argparse.ArgumentParser(
        prog="python -m models.datasets", description="List, download and check LayerScope's datasets."
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the data directory (default: data)")
    parser.add_argument(
        "--list", action="store_true", help="built-ins (present, <split> only, or missing) and datasets found here"
    )
    parser.add_argument("--download", metavar="NAME", help=f"fetch one of {', '.join(downloadable())} with checksums")
    parser.add_argument("--check", metavar="NAME", help="load NAME and print its size, dimensions and classes")
    parser.add_argument("--split", default="train", help="split for --check (default: train)")
    args = parser.parse_args(argv)
    try:
        if args.download:
            for path in download(args.download, args.data_dir, progress=console(sys.stderr)):
                print(path)
        if args.check:
            _print_check(args.check, args.data_dir, args.split)
        if args.list or not (args.download or args.check):
            _print_list(args.data_dir)
    except (DatasetError, Cancelled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

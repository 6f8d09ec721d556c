"""LayerScope: ``python app.py`` starts the dashboard on http://127.0.0.1:8050 with digits ready."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="app.py", description="LayerScope — look inside neural networks through their embeddings."
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="where dataset files live (default ./data)")
    p.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="where your model files live (default <data-dir>/models); nothing outside it is loaded",
    )
    p.add_argument("--store-dir", type=Path, default=Path("runs"), help="where runs are stored (default ./runs)")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"), help="background-job cache (default ./cache)")
    p.add_argument("--dataset", default="digits", help="dataset selected at start (default digits)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (repeatable); others are refused, "
        "which stops DNS-rebinding pages",
    )
    p.add_argument("--debug", action="store_true", help="Dash debug mode (never use on a shared network)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from dashboard.app import create_app
    from dashboard.config import AppConfig
    from models.datasets import DatasetError

    config = AppConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        store_dir=args.store_dir,
        cache_dir=args.cache_dir,
        debug=args.debug,
        default_dataset=args.dataset,
        allow_hosts=tuple(args.allow_host),
        model_dir=args.model_dir,
    )
    from dashboard.security import is_local

    if not is_local(args.host):
        print(
            f"warning: --host {args.host} exposes LayerScope beyond this machine: anyone who reaches it can "
            f"train, delete runs and read your data folder. Bind to 127.0.0.1 unless you mean it.",
            file=sys.stderr,
            flush=True,
        )
    try:
        from dashboard import state

        ds = state.dataset(config, args.dataset)  # fail early, with the loader's message
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config.export_env()
    app = create_app(config)
    print(f"LayerScope: {ds.name} ready ({ds.n:,} samples); runs in {config.store_dir}", flush=True)
    print(f"LayerScope running on http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())

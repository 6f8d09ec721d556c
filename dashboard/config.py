"""The app's configuration: where data, runs and the job cache live, and how to serve."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from models.cache import ResultCache
from models.store import CACHE, RunStore


@dataclass(frozen=True)
class AppConfig:
    host: str = "127.0.0.1"
    port: int = 8050
    data_dir: Path = Path("data")
    store_dir: Path = Path("runs")
    cache_dir: Path = Path("cache")
    debug: bool = False
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    default_dataset: str = "digits"
    model_dir: Path | None = None  # a person's model files (default: <data-dir>/models)
    allow_hosts: tuple[str, ...] = ()  # Host names answered besides the bound address and loopback

    @classmethod
    def from_env(cls) -> "AppConfig":
        """Settings for a process started without flags (a Celery worker): ``LAYERSCOPE_*`` variables."""
        env = os.environ
        return cls(
            data_dir=Path(env.get("LAYERSCOPE_DATA_DIR", "data")),
            store_dir=Path(env.get("LAYERSCOPE_STORE_DIR", "runs")),
            cache_dir=Path(env.get("LAYERSCOPE_CACHE_DIR", "cache")),
            model_dir=env.get("LAYERSCOPE_MODEL_DIR") or None,
        )

    def export_env(self) -> None:
        """Publish the folders so workers started from this process agree on them."""
        os.environ.update(
            LAYERSCOPE_DATA_DIR=str(self.data_dir),
            LAYERSCOPE_STORE_DIR=str(self.store_dir),
            LAYERSCOPE_CACHE_DIR=str(self.cache_dir),
        )
        if self.model_dir is not None:
            os.environ["LAYERSCOPE_MODEL_DIR"] = str(self.model_dir)

    def __post_init__(self) -> None:
        for name in ("data_dir", "store_dir", "cache_dir", "model_dir"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)).expanduser().resolve())

    @cached_property
    def store(self) -> RunStore:
        return RunStore(self.store_dir)

    @cached_property
    def results(self) -> ResultCache:
        """Computed projections and scores, next to the runs so every worker shares them."""
        return ResultCache(self.store_dir / CACHE)

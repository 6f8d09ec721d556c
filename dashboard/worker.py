"""The Celery worker for scale-out (``REDIS_URL`` set)::

    REDIS_URL=redis://127.0.0.1:6379/0 LAYERSCOPE_DATA_DIR=/shared/data LAYERSCOPE_STORE_DIR=/shared/runs \\
        .venv/bin/celery -A dashboard.worker worker --loglevel=INFO

It builds the same app as the web process, from ``LAYERSCOPE_*`` variables, so the same
background callbacks are registered as Celery tasks. The data folder and the store must sit
on paths every worker can reach (the job records live in the store too).
"""

from __future__ import annotations

import os

from .app import create_app
from .config import AppConfig

if not os.environ.get("REDIS_URL"):
    raise SystemExit("REDIS_URL is not set: the Celery worker is only for scale-out (redis://host:6379/0)")

config = AppConfig.from_env()
dash_app = create_app(config)
celery_app = dash_app._background_manager.handle  # the Celery app behind CeleryManager
app = celery_app  # what `celery -A dashboard.worker` looks for first

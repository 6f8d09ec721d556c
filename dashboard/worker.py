"""The Celery worker for scale-out (``REDIS_URL`` set): ``celery -A dashboard.worker worker``.

It builds the same app as the web process, from ``LAYERSCOPE_*`` variables, so the
same background callbacks are registered as Celery tasks. The store must sit on a
path every worker can reach.
"""
from __future__ import annotations

import os

from .app import create_app
from .config import AppConfig

if not os.environ.get("REDIS_URL"):
    raise SystemExit("REDIS_URL is not set: the Celery worker is only for scale-out (redis://host:6379/0)")

config = AppConfig.from_env()
app = create_app(config)
celery_app = app._background_manager.handle  # the Celery app behind CeleryManager

"""Uploads are validated with the ordinary loaders in a private folder and only then written."""

import io
from pathlib import Path

import numpy as np
import pytest

from models import datasets
from models.datasets import upload


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _good() -> bytes:
    rng = np.random.default_rng(0)
    return _npz(X=rng.normal(size=(40, 6)).astype(np.float32), y=np.arange(40) % 4)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_good_npz_is_written_and_found_by_the_picker(tmp_path):
    data, models = tmp_path / "data", tmp_path / "data" / "models"
    got = upload.accept("my vectors.npz", _good(), data_dir=data, model_dir=models)
    assert got.kind == "arrays" and got.path == (data / "uploads" / "my_vectors.npz").resolve()
    assert got.path.is_file() and "40 samples" in got.summary and "4 classes" in got.summary
    assert got.name in datasets.discover(data)
    assert datasets.load(got.name, data_dir=data).n == 40
    assert _files(data) == ["uploads/my_vectors.npz"]  # the temporary folder is gone


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("broken.npz", b"PK\x03\x04 not really a zip", "broken.npz"),
        ("../x.npz", None, "no folders"),
        ("a/b.npz", None, "no folders"),
        (".hidden.npz", None, "not hidden"),
        ("notes.txt", None, "not a file LayerScope reads"),
        ("pickled.npz", "pickle", "pickle"),
        ("empty.npz", b"", "empty"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(tmp_path, name, content, words):
    data = tmp_path / "data"
    if content is None:
        content = _good()
    elif content == "pickle":
        content = _npz(X=np.array([{"a": 1}] * 5, dtype=object), y=np.zeros(5, dtype=int))
    with pytest.raises(upload.UploadError) as err:
        upload.accept(name, content, data_dir=data, model_dir=data / "models")
    assert words.lower() in str(err.value).lower(), str(err.value)
    assert _files(data) == []
    assert not (tmp_path / "x.npz").exists()


def test_too_large_is_refused_before_anything_is_read(tmp_path):
    data = tmp_path / "data"
    content = _good()
    with pytest.raises(upload.UploadError, match="more than the"):
        upload.accept("big.npz", content, data_dir=data, model_dir=data / "models", max_bytes=len(content) - 1)
    assert _files(data) == []


def test_an_existing_file_is_not_replaced(tmp_path):
    data = tmp_path / "data"
    upload.accept("v.npz", _good(), data_dir=data, model_dir=data / "models")
    before = (data / "uploads" / "v.npz").read_bytes()
    with pytest.raises(upload.UploadError, match="already"):
        upload.accept("v.npz", _npz(X=np.ones((3, 2)), y=np.arange(3)), data_dir=data, model_dir=data / "models")
    assert (data / "uploads" / "v.npz").read_bytes() == before


def test_model_file_goes_to_the_models_folder(tmp_path):
    torch = pytest.importorskip("torch")
    data, models = tmp_path / "data", tmp_path / "mymodels"
    net = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 10)))
    buf = io.BytesIO()
    torch.jit.save(net, buf)
    got = upload.accept("net.pt", buf.getvalue(), data_dir=data, model_dir=models)
    assert got.kind == "model" and got.path == (models / "net.pt").resolve() and got.path.is_file()
    whole = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), whole)  # a pickled whole model: refused, never unpickled
    with pytest.raises(upload.UploadError):
        upload.accept("whole.pt", whole.getvalue(), data_dir=data, model_dir=models)
    assert not (models / "whole.pt").exists()


def test_stale_staging_folders_are_swept_and_fresh_ones_kept(tmp_path):
    import os
    import time

    from models.datasets.upload import STAGING_PREFIX, sweep_staging

    old, fresh = tmp_path / f"{STAGING_PREFIX}old", tmp_path / f"{STAGING_PREFIX}fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "x.npz").write_bytes(b"0")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    keep = tmp_path / "uploads"
    keep.mkdir()
    os.utime(keep, (hour_ago, hour_ago))
    assert sweep_staging(tmp_path) == [old]
    assert not old.exists() and fresh.exists() and keep.exists()


def test_staged_uploads_are_bounded(tmp_path):
    """Staged files whose check never runs (the page closed, or a script posting) stopped piling up."""
    data = tmp_path / "data"
    waiting = [upload.stage(f"v{i}.npz", _good(), data_dir=data) for i in range(upload.MAX_PENDING_UPLOADS)]
    with pytest.raises(upload.UploadError, match="still waiting for their check"):
        upload.stage("one-more.npz", _good(), data_dir=data)
    assert len(upload.pending_uploads(data)) == upload.MAX_PENDING_UPLOADS
    upload.install(waiting[0], data_dir=data, model_dir=data / "models")  # a check ran: room for one more
    assert upload.stage("one-more.npz", _good(), data_dir=data).is_file()


def test_content_that_is_not_bytes_is_refused_before_staging(tmp_path):
    data = tmp_path / "data"
    with pytest.raises(upload.UploadError, match="arrived as int"):
        upload.stage("x.npz", 12345, data_dir=data)
    with pytest.raises(upload.UploadError, match="not a staged upload"):
        upload.staged_path(data, 7)
    assert upload.pending_uploads(data) == []


_STAGE_AND_DIE = """
import sys
from models.datasets import upload
path = upload.stage("v.npz", b"PK not checked", data_dir=sys.argv[1])
if sys.argv[2] == "claimed":  # a check started in another process, which then died mid-check
    upload._mark(path.parent / upload.CHECKER)
"""


def _staged_by_a_dead_process(data: Path, how: str) -> Path:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    before = set(upload.pending_uploads(data))
    subprocess.run(
        [sys.executable, "-c", _STAGE_AND_DIE, str(data), how],
        cwd=root,
        check=True,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    (folder,) = set(upload.pending_uploads(data)) - before
    return folder


def test_staging_folders_of_dead_processes_are_swept_at_once(tmp_path):
    """After a crash, the staging folders of gone processes went only once an hour old; a fresh folder
    whose process lives (a check may be running) stays."""
    data = tmp_path / "data"
    unclaimed = _staged_by_a_dead_process(data, "unclaimed")
    claimed = _staged_by_a_dead_process(data, "claimed")
    alive = upload.stage("mine.npz", _good(), data_dir=data).parent  # swept the other two on its way
    assert not unclaimed.exists() and not claimed.exists() and alive.exists()
    again = _staged_by_a_dead_process(data, "claimed")
    assert upload.sweep_staging(data) == [again] and alive.exists()


def test_the_app_sweeps_staging_folders_of_dead_jobs_at_start(tmp_path):
    from dashboard.app import create_app
    from dashboard.config import AppConfig

    data = tmp_path / "data"
    dead = _staged_by_a_dead_process(data, "claimed")
    create_app(AppConfig(store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", data_dir=data))
    assert not dead.exists()

"""The offline download error names the files and the absolute folder to put them in (README's promise)."""
import urllib.error
import urllib.request

import pytest

from models import datasets
from models.datasets import DatasetError
from models.datasets.registry import REGISTRY


class _Offline:
    def open(self, url, timeout=None):
        raise urllib.error.URLError("no route to host")


@pytest.mark.parametrize("name", datasets.downloadable()[:2])
def test_offline_error_names_files_and_absolute_folder(tmp_path, monkeypatch, name):
    monkeypatch.setattr(urllib.request, "build_opener", lambda *a, **k: _Offline())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as err:
        datasets.download(name, "relative-data")   # a relative folder: the message must make it absolute
    message = str(err.value)
    folder = (tmp_path / "relative-data" / name).resolve()
    assert f"in {folder}/" in message, message
    files = list(REGISTRY[name].download[1])
    assert all(f in message for f in files), message
    assert "no route to host" in message
    assert not any(p.is_file() for p in (tmp_path / "relative-data" / name).iterdir())  # nothing half-written

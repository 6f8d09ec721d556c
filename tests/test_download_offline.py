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
        datasets.download(name, "relative-data")  # a relative folder: the message must make it absolute
    message = str(err.value)
    folder = (tmp_path / "relative-data" / name).resolve()
    assert f"in {folder}/" in message, message
    files = list(REGISTRY[name].download[1])
    assert all(f in message for f in files), message
    assert "no route to host" in message
    assert not (tmp_path / "relative-data" / name).exists()  # nothing half-written, no empty folder left behind


def test_a_failed_download_keeps_a_folder_that_was_there(tmp_path, monkeypatch):
    """Only a folder the download made is removed: one the person had (with their files) stays."""
    monkeypatch.setattr(urllib.request, "build_opener", lambda *a, **k: _Offline())
    name = datasets.downloadable()[0]
    mine = tmp_path / name / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    with pytest.raises(DatasetError):
        datasets.download(name, tmp_path)
    assert mine.read_text() == "mine"

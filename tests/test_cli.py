"""Every study's command line fails the same way on bad input: one `error:` line, exit 2, nothing stored."""
from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("study", ["hardness", "gne", "dnm", "landscape", "explore"])
def test_unknown_dataset_is_one_error_line_and_exit_2(study, tmp_path, capsys):
    main = importlib.import_module(f"models.studies.{study}").main
    store = tmp_path / "runs"
    code = main(["--dataset", "no-such-set", "--data-dir", str(tmp_path / "data"), "--store-dir", str(store)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and "no-such-set" in err[-1]
    assert not store.exists() or not [p for p in store.iterdir() if not p.name.startswith(".")]

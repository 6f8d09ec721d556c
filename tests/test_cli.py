"""Every study's command line fails the same way: bad input is one `error:` line, exit 2, nothing stored;
a bug is its traceback and exit 1."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from models.studies import STUDIES


def _cli_fields(study: str) -> set[str]:
    config = importlib.import_module(f"models.studies.{study}").Config
    return {f.name for f in dataclasses.fields(config) if f.metadata.get("cli", True)}


#: the flag that names what a study reads: a dataset, or (studies of runs) the runs it reads
_SOURCE = {"dataset": "--dataset", "runs": "--runs", "run": "--run"}


@pytest.mark.parametrize("study", STUDIES)
def test_unknown_source_is_one_error_line_and_exit_2(study, tmp_path, capsys):
    main = importlib.import_module(f"models.studies.{study}").main
    store = tmp_path / "runs"
    field = next(name for name in _SOURCE if name in _cli_fields(study))
    code = main([_SOURCE[field], "no-such-set", "--data-dir", str(tmp_path / "data"), "--store-dir", str(store)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and "no-such-set" in err[-1]
    assert not store.exists() or not [p for p in store.iterdir() if not p.name.startswith(".")]


def _run_with_engine_raising(exc: Exception, tmp_path, capsys, monkeypatch) -> tuple[int, list[str]]:
    from models.studies import dnm, dnm_engine

    def boom(config, **_kwargs):
        raise exc

    monkeypatch.setattr(dnm_engine, "run", boom)
    store = tmp_path / "runs"
    code = dnm.main(["--data-dir", str(tmp_path / "data"), "--store-dir", str(store)])
    assert not store.exists() or not [p for p in store.iterdir() if not p.name.startswith(".")]
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_bug_in_an_engine_prints_its_traceback_and_exits_1(tmp_path, capsys, monkeypatch):
    code, err = _run_with_engine_raising(ValueError("operands could not be broadcast"), tmp_path, capsys, monkeypatch)
    assert code == 1
    assert err[0].startswith("Traceback")
    assert err[-1] == "ValueError: operands could not be broadcast"
    assert not any(line.startswith("error: ") for line in err)


def test_a_users_mistake_in_an_engine_is_one_error_line_and_exit_2(tmp_path, capsys, monkeypatch):
    from models.datasets import DatasetError

    code, err = _run_with_engine_raising(
        DatasetError("digits.npz: truncated; save it again"), tmp_path, capsys, monkeypatch
    )
    assert code == 2
    assert err == ["error: digits.npz: truncated; save it again"]


def test_a_bad_setting_is_one_error_line_and_exit_2(tmp_path, capsys):
    from models.studies import dnm

    assert dnm.main(["--lattice", "1x1", "--store-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: lattice")

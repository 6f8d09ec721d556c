"""One rule for which run a tab draws (``state.shown_run``), used by the tabs (``state.run_for_view``) and
the run bar above them alike: the picked run when it is of one of the tab's kinds, else the newest run
of the tab's own kind for the dataset, said in a note."""

from __future__ import annotations

import time

import pytest

from dashboard import state, tab_run
from dashboard.config import AppConfig


@pytest.fixture
def config(tmp_path):
    return AppConfig(data_dir=tmp_path / "data", store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")


def _save(config: AppConfig, kind: str, dataset: str = "digits") -> str:
    run_id = config.store.save(kind, dataset=dataset, config={}, seed=0)
    time.sleep(0.002)  # created to the millisecond: the next run is newer
    return run_id


def test_the_rule_keeps_a_picked_run_of_the_tabs_kinds_else_the_newest_of_its_own(config):
    old, new, captured, dnm = (_save(config, k) for k in ("hardness", "hardness", "capture", "dnm"))
    runs = config.store.list()
    by_id = {r.id: r for r in runs}
    layers = ("hardness", "capture")
    assert state.shown_run(by_id[captured], runs, layers).id == captured
    assert state.shown_run(by_id[old], runs, layers).id == old
    assert state.shown_run(by_id[dnm], runs, layers).id == new  # another tab's run: the newest of our own
    assert state.shown_run(None, runs, layers).id == new
    assert state.shown_run(None, runs, ("landscape",)) is None
    assert not hasattr(tab_run, "shown_run")  # the bar has no rule of its own


def test_run_for_view_follows_the_rule_and_says_why_it_swapped(config):
    hardness, captured, dnm = (_save(config, k) for k in ("hardness", "capture", "dnm"))
    kinds = ("hardness", "capture")
    assert state.run_for_view(config, captured, kinds, "digits") == (state.run(config, captured), "")
    run, note = state.run_for_view(config, dnm, kinds, "digits")
    assert run.id == hardness and note == f"the picked run is a dnm run; showing the newest hardness run, {hardness}"
    run, note = state.run_for_view(config, captured, "hardness", "digits")  # one kind, as a string
    assert run.id == hardness and "capture run" in note
    run, note = state.run_for_view(config, None, kinds, "iris")
    assert run is None and note == "no hardness run for iris yet"
    run, note = state.run_for_view(config, "gone-20260101-000000-abcdef", kinds, "digits")
    assert run.id == hardness and note == f"showing the newest hardness run, {hardness}"

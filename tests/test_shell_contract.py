"""The shell contract, checked at start: tab ids carry their prefix, one tab per trained kind, and every
callback's id is in the full layout Dash validates against (no suppress_callback_exceptions)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from dash import Input, Output, dcc, html

from dashboard.config import AppConfig
from dashboard.contract import ContractError, check_views, unknown_callback_ids
from dashboard.views import VIEWS


@pytest.fixture
def config(tmp_path):
    return AppConfig(data_dir=tmp_path / "data", store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")


def _view(name: str, tab: str, ids: list, trains: str | None = None) -> SimpleNamespace:
    body = html.Div([dcc.Store(id=i) for i in ids], id=f"{tab}-root")
    return SimpleNamespace(__name__=f"dashboard.views.{name}", TAB_ID=tab, TRAINS=trains, layout=lambda _c: body)


def test_every_tab_keeps_the_contract(config):
    check_views(list(VIEWS), config)
    trained = [v.TRAINS for v in VIEWS if getattr(v, "TRAINS", None)]
    assert len(trained) == len(set(trained))


def test_a_component_outside_its_tabs_prefix_is_refused(config):
    good = _view("alpha", "alpha", ["alpha-plot", {"type": "class-legend", "view": "alpha"}])
    bad = _view("beta", "beta", ["beta-plot", "run-picker", {"type": "alpha-row", "index": 1}])
    check_views([good], config)
    with pytest.raises(ContractError, match=r"view beta: ids .*run-picker.* must start with 'beta-'") as info:
        check_views([good, bad], config)
    assert "alpha-row" in str(info.value) and "beta-plot" not in str(info.value)


def test_two_tabs_training_one_kind_are_refused(config):
    one, two = _view("alpha", "alpha", [], trains="hardness"), _view("beta", "beta", [], trains="hardness")
    with pytest.raises(ContractError, match="tabs alpha, beta all say TRAINS = 'hardness'"):
        check_views([one, two], config)
    with pytest.raises(ContractError, match="both have TAB_ID 'alpha'"):
        check_views([one, _view("gamma", "alpha", [])], config)


def test_callbacks_are_validated_against_the_full_layout(config):
    from dashboard.app import create_app

    app = create_app(config)
    assert app.config.suppress_callback_exceptions is False
    assert app.validation_layout is not None
    assert unknown_callback_ids(app) == set()
    app.callback(Output("no-such-id", "children"), Input("run-picker", "value"))(lambda _v: None)  # a typo
    assert unknown_callback_ids(app) == {"no-such-id"}

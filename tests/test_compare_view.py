"""The Compare tab without a browser: its pure figures, what it reads of a compare run (a run saved in the
study's contract shape by tests/compare_fake.py, so these tests do not depend on the study's engine), and
its callbacks called through the app's callback map."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard import figures as shell_figures
from dashboard.config import AppConfig
from dashboard.views.compare import data, figures
from models.studies import capture as face
from tests.compare_fake import capture_run, compare_run, linear_cka


# -- figures ------------------------------------------------------------------------------------------
def test_cka_heatmap_keeps_order_names_scale_and_pairs():
    rows = ["/layer1/conv/Conv_output_0", "/layer2/conv/Conv_output_0", "fc"]
    cols = ["a", "b"]
    m = np.array([[1.0, 0.2], [0.5, np.nan], [0.1, 0.9]])
    fig = figures.cka_heatmap(rows, cols, m, row_title="A", col_title="B")
    (heat,) = fig.data
    assert isinstance(heat, go.Heatmap) and (heat.zmin, heat.zmax) == (0.0, 1.0)
    assert heat.z[1][1] is None and heat.z[2][1] == pytest.approx(0.9)  # NaN: a blank cell, not a colour
    assert list(heat.customdata[0][1]) == [rows[0], "b"] and list(heat.customdata[2][0]) == ["fc", "a"]
    assert list(fig.layout.yaxis.ticktext) == ["layer1/conv", "layer2/conv", "fc"]
    assert fig.layout.yaxis.autorange == "reversed"  # the first layer on top
    assert "%{z:.3f}" in heat.hovertemplate and "customdata[0]" in heat.hovertemplate
    assert heat.texttemplate == "%{z:.2f}"
    big = figures.cka_heatmap([f"l{i}" for i in range(20)], [f"l{i}" for i in range(20)], np.eye(20))
    assert big.data[0].texttemplate is None  # 400 cells: values on hover only
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        figures.cka_heatmap(rows, cols, np.zeros((2, 2)))
    assert "no layers" in figures.cka_heatmap([], cols, []).layout.annotations[0].text


def test_short_names_stay_unique_and_readable():
    assert figures.short_name("/blocks/blocks.3/attn/MatMul_output_0") == "blocks/blocks.3/attn"
    assert figures.short_name("x" * 40).startswith("…") and len(figures.short_name("x" * 40)) == 22
    assert figures.unique_ticks(["/a/Conv_output_0", "/a/Conv_output_1", "b"]) == ["a", "a (2)", "b"]


def test_step_heatmap_and_curves():
    fig = figures.step_heatmap(["conv", "fc"], [0, 5, 10], [[0.2, 0.6, 1.0], [0.1, 0.4, 1.0]])
    heat = fig.data[0]
    assert (heat.zmin, heat.zmax) == (0.0, 1.0) and list(fig.layout.xaxis.ticktext) == ["0", "5", "10"]
    assert list(heat.customdata[1][2]) == ["fc", 10] and "step 10" in fig.layout.title.text
    pairs = figures.cka_heatmap(["conv", "fc"], ["conv", "fc"], np.eye(2)).data[0]
    assert heat.colorbar.tickvals == pairs.colorbar.tickvals and fig.layout.yaxis.autorange == "reversed"  # one scale
    assert "one step only" in figures.step_heatmap(["a"], [], []).layout.annotations[0].text
    lines = figures.step_lines({"10": {"a": 0.5, "b": 0.9}, "2": {"a": 0.3, "b": 0.4, "B:a": 0.1}})
    assert list(lines) == ["step 2", "step 10"] and lines["step 2"] == (["a", "b"], [0.3, 0.4])
    models = figures.split_lines({"a": 0.5, "b": 0.7, "B:a": 0.2, "B:c": 0.9})
    assert models == {"A": (["a", "b"], [0.5, 0.7]), "B": (["a", "c"], [0.2, 0.9])}
    curves = figures.depth_curves(
        [("probe", models, True), ("hardness", {"A": (["a", "b"], [3.0, 1.5])}, False), ("empty", {}, True)]
    )
    assert [t.name for t in curves.data] == ["A", "B", "A"]
    assert [t.showlegend for t in curves.data] == [True, True, False]
    assert curves.data[0].line.color == curves.data[2].line.color  # one colour per model in every panel
    assert list(curves.layout.yaxis.range) == [0, 1.03] and curves.layout.yaxis2.range is None
    assert len(curves.layout.annotations) == 2  # the empty panel is left out


def test_layers_marks_every_panel_a_jump_names():
    panels = [(n, np.random.default_rng(0).normal(size=(10, 2))) for n in ("a", "b", "c")]
    fig = shell_figures.layers_figure(panels, np.arange(10) % 3, ["0", "1", "2"], focus=["a", "c"])
    assert [("▶" in a.text) for a in fig.layout.annotations] == [True, False, True]
    one = shell_figures.layers_figure(panels, np.arange(10) % 3, ["0", "1", "2"], focus="b")
    assert [("▶" in a.text) for a in one.layout.annotations] == [False, True, False]


# -- data: a compare run in the contract's shape -------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-view")
    (root / "data").mkdir()
    config = AppConfig(data_dir=root / "data", store_dir=root / "runs", cache_dir=root / "cache")
    a = capture_run(root, seed=0, steps=(0, 10))
    b = capture_run(root, seed=3, steps=(0,))
    within = compare_run(config.store, a)
    across = compare_run(config.store, a, b, movers=False, over_steps=False)
    return config, a, b, config.store.load(within), config.store.load(across)


def test_sources_steps_layers_and_the_form(world):
    config, a, b, *_ = world
    assert {r.id for r in data.source_runs(config, "digits")} == {a.id, b.id}  # compare runs are not sources
    assert data.source_steps(a) == [0, 10] and data.source_layers(a) == ["conv2", "fc1", "output"]
    with pytest.raises(ValueError, match="pick run A"):
        data.compare_config("digits", None, None, [], [], "linear")
    with pytest.raises(ValueError, match="run B is run A"):
        data.compare_config("digits", a.id, a.id, [0], ["fc1"], "linear")
    with pytest.raises(ValueError, match="at least one step"):
        data.compare_config("digits", a.id, None, [], ["conv2", "fc1"], "linear", [0, 10], ["conv2", "fc1"])
    with pytest.raises(ValueError, match="two layers"):
        data.compare_config("digits", a.id, None, [0], ["fc1"], "linear", [0, 10], ["conv2", "fc1"])


def test_a_compare_run_is_read_as_the_view_draws_it(world):
    config, a, b, within, across = world
    found = data.cka(within)
    assert found["layers_a"] == found["layers_b"] == ["conv2", "fc1", "output"]
    assert np.allclose(np.diag(found["matrix"]), 1.0)
    assert data.axis_titles(found) == ("layer (step 10)", "layer")
    assert data.axis_titles(data.cka(across)) == ("A · step 10", "B · step 0")
    assert data.cka_steps(within)["steps"] == [0, 10] and data.cka_steps(across) is None
    panels = data.curve_panels(within)
    assert [p[0] for p in panels] == ["linear-probe accuracy", "k-NN accuracy"]
    assert list(panels[0][1]) == ["step 0", "step 10"]  # several steps: a line per step
    assert list(data.curve_panels(across)[0][1]) == ["A", "B"]  # two models: a line per model
    movers = data.movers(within)
    kept = np.asarray(movers["kept"])
    assert np.all(np.diff(kept) >= 0) and movers["total"] == len(face.sample(a)["labels"])
    assert movers["from"]["layer"] == "conv2" and movers["to"]["layer"] == "output"
    assert data.movers(across) is None


def test_a_cell_names_its_pair_and_the_jump_to_layers(world):
    config, a, b, within, across = world
    ref_a, ref_b = data.cell_pair(data.cka(within), "conv2", "fc1")
    assert ref_a == {"run": a.id, "step": 10, "layer": "conv2"} and ref_b["layer"] == "fc1"
    focus, note = data.layers_jump(config.store, ref_a, ref_b)
    assert focus == {"tab": "layers", "run": a.id, "layer": "conv2", "layers": ["conv2", "fc1"], "step": 10}
    assert note == ""
    ref_a, ref_b = data.cell_pair(data.cka(across), "fc1", "conv2")
    assert ref_b["run"] == b.id
    focus, note = data.layers_jump(config.store, ref_a, ref_b)
    assert focus["layers"] == ["fc1"] and b.id in note
    s_a, s_b = data.step_pair(data.cka_steps(within), data.cka(within), "fc1", 0)
    assert (s_a["step"], s_b["step"], s_a["layer"], s_b["layer"]) == (0, 10, "fc1", "fc1")
    focus, note = data.layers_jump(config.store, s_a, s_b)
    assert focus["step"] == 0 and "step slider to 10" in note


def test_ranked_movers_and_their_labels(world):
    config, a, *_ = world
    found = data.ranked({"index": [5, 3, 9, 1], "kept": [0.5, 0.0, np.nan, 0.0], "labels": [1, 2, 3, 4]}, limit=3)
    assert found["index"] == [1, 3, 5] and found["kept"] == [0.0, 0.0, 0.5] and found["labels"] == [4, 2, 1]
    with pytest.raises(ValueError, match="indices"):
        data.ranked({"index": [1, 2], "kept": [0.1]})
    sample = face.sample(a)
    assert data.sample_labels(config, a.id, sample["index"][:5]).tolist() == sample["labels"][:5].tolist()
    assert data.selection_space(config, a.id) == "digits:train" and data.selection_space(config, "gone") is None


# -- callbacks, through the app -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(world):
    from dashboard.app import create_app

    return create_app(world[0])


def callback(app, output: str):
    keys = [k for k in app.callback_map if output in k]
    assert keys, f"no callback writes {output}"
    return app.callback_map[keys[0]]["callback"].__wrapped__


def writers(app, output: str, only_input: dict) -> list:
    """The callbacks writing ``output`` whose one input is ``only_input``."""
    return [
        v["callback"].__wrapped__ for k, v in app.callback_map.items() if output in k and v["inputs"] == [only_input]
    ]


def triggered(prop_id: str, value):
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": value}]))


def test_draw_the_run_the_picker_holds_and_empty_before_any(world, app, tmp_path):
    config, a, b, within, across = world
    draw = callback(app, "compare-cka.figure")
    heat, steps, steps_style, curves, curves_style, status, movers, line, hint = draw(within.id, 0, "digits", None)
    assert line == "" and hint.startswith("click a cell")  # the run's own movers replace a pair's, and its line
    assert heat.data[0].type == "heatmap" and steps_style == {} and curves_style == {}
    np.testing.assert_allclose(np.asarray(heat.data[0].z, float), data.cka(within)["matrix"])
    assert within.id in status and movers["compare"] == within.id and len(movers["index"]) <= data.MOVERS_SHOWN
    heat, _, steps_style, *_, movers, line, _ = draw(across.id, 0, "digits", {"compare": across.id, "index": [1]})
    assert steps_style == {"display": "none"}
    assert movers is dash_no_update() and line is dash_no_update()  # the movers of a pair of this run stay
    assert len(heat.data[0].customdata[0]) == len(data.cka(across)["layers_b"])
    empty = AppConfig(data_dir=tmp_path / "d", store_dir=tmp_path / "r", cache_dir=tmp_path / "c")
    from dashboard.app import create_app

    first = callback(create_app(empty), "compare-cka.figure")(None, 0, "digits", None)
    assert "no comparison yet" in first[0].layout.annotations[0].text and first[-3] is None


def dash_no_update():
    from dash import no_update

    return no_update


def test_the_page_has_every_id_the_callbacks_use(world, app):
    from dashboard.views import compare

    text = str(compare.layout(world[0]).to_plotly_json())
    for id_ in (
        "compare-run-a",
        "compare-run-b",
        "compare-steps",
        "compare-layers",
        "compare-metric",
        "compare-k",
        "compare-start",
        "compare-job",
        "compare-cka",
        "compare-steps-heat",
        "compare-curves",
        "compare-pair",
        "compare-movers",
        "compare-movers-select",
        "compare-movers-data",
        "compare-movers-job",
    ):
        assert f"'{id_}'" in text, id_
    assert compare in __import__("dashboard.views", fromlist=["VIEWS"]).VIEWS and compare.TRAINS == "compare"


def test_sources_and_parts_fill_the_form(world, app):
    config, a, b, within, _ = world
    sources = callback(app, "compare-run-a.options")
    options, value, b_options, b_value, metrics = sources(a.id, 0, "digits", None, None)
    assert value == a.id and {o["value"] for o in options} == {a.id, b.id}
    assert [o["value"] for o in b_options] == [b.id] and b_value is None
    assert sources(within.id, 0, "digits", b.id, a.id)[1:4:2] == (b.id, a.id)  # a valid choice stays
    parts = callback(app, "compare-steps.options")
    step_opts, steps, style, layer_opts, layers, note = parts(a.id, b.id)
    assert steps == [0, 10] and style == {} and layers == ["conv2", "fc1", "output"]
    assert "× B's 3 layers" in note and "over 2 steps" in note
    assert parts(b.id, None)[2] == {"display": "none"}  # one step: nothing to choose


def test_a_click_jumps_to_layers_and_asks_for_the_movers(world, app):
    config, a, b, within, across = world
    open_pair = callback(app, "compare-pair.data")
    click = {"points": [{"x": 1, "y": 0, "z": 0.5}]}  # what Plotly sends for a heatmap cell: its column and row
    triggered("compare-cka.clickData", click)
    focus, pair, hint, asked = open_pair(click, None, within.id, "digits", 7, 2)
    assert asked == 3  # the movers job starts
    assert focus["tab"] == "layers" and focus["run"] == a.id and focus["layers"] == ["conv2", "fc1"]
    assert pair["a"]["layer"] == "conv2" and pair["b"]["layer"] == "fc1" and pair["k"] == 7
    assert "conv2" in hint and "Layers" in hint
    steps_click = {"points": [{"x": 0, "y": 1}]}
    triggered("compare-steps-heat.clickData", steps_click)
    focus, pair, *_ = open_pair(None, steps_click, within.id, "digits", None, None)
    assert focus["step"] == 0 and pair["b"]["step"] == 10 and pair["k"] == 10 and pair["a"]["layer"] == "fc1"
    triggered("compare-cka.clickData", {"points": [{"x": 7, "y": 0}]})
    assert open_pair({"points": [{"x": 7, "y": 0}]}, None, within.id, "digits", 7, 1)[3] is dash_no_update()
    # Layers follows the jump to run A (the Run picker held the compare run)
    found = writers(app, "run-picker.value", {"id": "focus", "property": "data"})
    assert len(found) == 1
    assert found[0](focus, within.id) == a.id and found[0](focus, a.id) is dash_no_update()
    assert found[0]({"tab": "layers", "run": within.id}, None) is dash_no_update()  # a compare run: not drawn there


def test_movers_list_and_select_these(world, app):
    config, a, b, within, _ = world
    movers = {**data.movers(within), "compare": within.id}
    cards, title, disabled = callback(app, "compare-movers.children")(movers)
    text = str(cards.to_plotly_json())
    assert not disabled and "data:image/png" in text and "kept" in text and f"#{movers['index'][0]}" in text
    assert "conv2" in title and "output" in title and "nearest neighbours" in title
    assert text.index(f"#{movers['index'][0]}'") < text.index(f"#{movers['index'][1]}'")  # most moved first
    assert callback(app, "compare-movers.children")(None)[2] is True
    selects = writers(app, "selection.data", {"id": "compare-movers-select", "property": "n_clicks"})
    assert len(selects) == 1
    picked = selects[0](1, movers)
    assert picked == {"space": "digits:train", "ids": sorted(set(movers["index"]))}
    assert selects[0](1, None) is dash_no_update()


def test_linear_cka_of_the_helper_is_the_formula(world):
    x = np.random.default_rng(0).normal(size=(50, 4))
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))
    assert linear_cka(x, x @ q * 3.0) == pytest.approx(1.0)


def test_the_study_itself_runs_from_the_form_and_its_run_draws(world):
    """The form's config through the real study (models.studies.compare): the run it writes is one the tab
    draws, and a clicked pair's movers come back ranked for the list."""
    from dashboard.views.compare.callbacks import draw_run
    from models.studies import compare

    config, a, b, *_ = world
    cfg = data.compare_config(
        "digits", a.id, b.id, [0, 10], ["conv2", "fc1", "output"], "linear", [0, 10], ["conv2", "fc1", "output"], 5
    )
    assert cfg.runs == (a.id, b.id) and cfg.steps is None and cfg.layers is None and cfg.k == 5
    run = compare.run(cfg, store=config.store, data_dir=config.data_dir)
    heat, steps_fig, curves, text = draw_run(run)
    assert heat.data[0].type == "heatmap" and np.asarray(heat.data[0].z, float).shape == (3, 3)
    assert steps_fig is not None and curves is not None and run.id in text
    assert {t.name for t in curves.data} == {"A · step 0", "A · step 10", "B"}
    ref_a, ref_b = data.cell_pair(data.cka(run), "conv2", "fc1")
    found = data.movers_between(config, ref_a, ref_b, 5)
    assert found["total"] == len(face.sample(a)["labels"]) and np.all(np.diff(found["kept"]) >= 0)
    assert len(found["labels"]) == len(found["index"]) and -1 not in found["labels"]
    stored = data.movers(run)
    assert stored is not None and len(stored["index"]) == min(data.MOVERS_SHOWN, stored["total"])


def test_a_hardness_network_is_a_source_and_its_cells_open_that_network(tmp_path):
    """One network of a hardness run is compared (RUN:NETWORK); a cell opens that network in Layers."""
    from dashboard.views.compare.callbacks import draw_run
    from models.studies import compare, hardness

    config = AppConfig(data_dir=tmp_path / "data", store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    cfg = hardness.Config(
        depths=[2],
        activations=["tanh"],
        runs=2,
        epochs=2,
        per_class=8,
        perplexity=8,
        methods=["tsne"],
        n_jobs=1,
        tsne_iter=250,
    )
    source = hardness.run(cfg, store=config.store)
    options = data.source_options(data.source_runs(config, "digits"))
    assert [o["value"] for o in options] == [f"{source.id}:tanh-d2-r0", f"{source.id}:tanh-d2-r1"]
    run, network = data.open_source(config, options[1]["value"])
    assert run.id == source.id and network == "tanh-d2-r1"
    assert data.source_layers(run, network) == ["input", "hidden1", "hidden2", "logits"]
    assert data.source_steps(run) == []
    cfg = data.compare_config(
        "digits",
        options[1]["value"],
        None,
        [],
        data.source_layers(run, network),
        "linear",
        [],
        data.source_layers(run, network),
        5,
    )
    made = compare.run(cfg, store=config.store, data_dir=config.data_dir)
    heat, steps_fig, curves, _ = draw_run(made)
    assert steps_fig is None and [a.text for a in curves.layout.annotations][-1] == "hardness (t-SNE KL)"
    ref_a, ref_b = data.cell_pair(data.cka(made), "hidden1", "logits")
    assert ref_a["network"] == ref_b["network"] == "tanh-d2-r1"
    focus, note = data.layers_jump(config.store, ref_a, ref_b)
    assert (
        focus
        == {
            "tab": "layers",
            "run": source.id,
            "layer": "hidden1",
            "layers": ["hidden1", "logits"],
            "network": "tanh-d2-r1",
            "method": "tsne",
        }
        and note == ""
    )
    assert data.selection_space(config, source.id) == "digits:test"
    found = data.movers_between(config, ref_a, ref_b, 5)
    assert found["total"] == 80 and -1 not in found["labels"]

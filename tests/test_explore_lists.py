"""Explore's ranked lists page through every sample (ties broken by a second score), mixed error
clusters say so, filters grey points out without rescaling the map, and the colours: one class
palette in every tab, a colour-blind-safe correct/wrong pair."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import figures
from dashboard.views.explore import figures as explore_figures
from models.studies.explore import ErrorCluster
from models.studies.explore_scores import centre_distance, cluster_mix, page_of, ranked_order


def test_ties_are_broken_by_the_second_score_and_order_is_stable():
    primary = np.array([0.5, 1.0, 1.0, 0.5, 1.0, 0.2, 0.5])
    secondary = np.array([0.1, 0.3, 0.9, 0.1, 0.3, 0.0, 0.7])
    order = ranked_order(primary, secondary)
    # 1.0: by secondary 0.9 (2), then 0.3 twice (1, 4 in position order); 0.5: 0.7 (6), 0.1 twice (0, 3); 0.2
    assert order.tolist() == [2, 1, 4, 6, 0, 3, 5]
    assert ranked_order(primary, secondary, secondary_descending=False).tolist() == [1, 4, 2, 0, 3, 6, 5]
    # NaN scores sort last, not first
    assert ranked_order(np.array([np.nan, 0.1]), np.zeros(2)).tolist() == [1, 0]
    with pytest.raises(ValueError, match="one length"):
        ranked_order(np.zeros(3), np.zeros(2))


def test_paging_covers_every_sample_exactly_once():
    rng = np.random.default_rng(0)
    n = 1797
    primary = rng.integers(0, 5, n).astype(float)  # many ties
    order = ranked_order(primary, rng.random(n))
    seen, page, pages = [], 0, None
    while True:
        rows, page, pages = page_of(order, page, 12)
        seen += rows.tolist()
        if page == pages - 1:
            break
        page += 1
    assert pages == -(-n // 12) and len(seen) == n and sorted(seen) == list(range(n))
    assert np.all(np.diff(primary[seen]) <= 0)  # sorted by the first score across pages
    assert page_of(order, 10_000, 12)[1] == pages - 1 and page_of(order, -3, 12)[1] == 0  # clamped
    assert explore_figures.page_label(0, 12, n) == "1–12 of 1,797"
    assert explore_figures.page_label(pages - 1, 12, n) == "1,789–1,797 of 1,797"


def test_centre_distance_is_larger_for_a_sample_far_from_its_class():
    unit = np.array([[1, 0], [1, 0], [0.96, 0.28], [0, 1], [0, 1]], dtype=np.float32)
    d = centre_distance(unit, np.array([0, 0, 0, 1, 1]))
    assert d[2] > d[0] and d[3] == pytest.approx(0, abs=1e-6)


def test_mostly_mixed_clusters_say_so():
    labels = np.array([3, 3, 5, 5, 8, 8, 3, 3, 3, 3])
    preds = np.array([5, 5, 8, 8, 3, 3, 8, 8, 8, 8])
    mixed = ErrorCluster(id=0, size=6, label=3, prediction=5, share=2 / 6, members=(0, 1, 2, 3, 4, 5))
    pure = ErrorCluster(id=1, size=4, label=3, prediction=8, share=1.0, members=(6, 7, 8, 9))
    names = [str(k) for k in range(10)]
    assert cluster_mix(labels, preds, mixed.members) == (True, [3, 5, 8])
    title, detail = explore_figures.cluster_title(mixed, labels, preds, names)
    assert "mixed: 3, 5, 8" in title and "3→5" in detail and "33%" in detail
    title, detail = explore_figures.cluster_title(pure, labels, preds, names)
    assert "labelled 3, predicted 8" in title and "mixed" not in title
    # the boundary: a pair at 60 % or more is not mixed
    assert not cluster_mix(np.array([1, 1, 1, 2, 2]), np.array([0, 0, 0, 0, 0]), [0, 1, 2, 3, 4])[0]


def _colour_of(marker, value):
    """The colour a marker with a discrete colourscale gives ``value``."""
    lo, hi = marker["cmin"], marker["cmax"]
    t = (value - lo) / (hi - lo)
    scale = marker["colorscale"]
    for (a, colour), (b, _) in zip(scale, scale[1:]):
        if a <= t <= b:
            return colour
    raise AssertionError(f"{value} outside the colourscale")


def test_class_3_has_one_colour_in_every_tab():
    names = [str(k) for k in range(10)]
    labels = np.arange(40) % 10
    coords = np.random.default_rng(0).normal(size=(40, 2))
    data_fig = figures.label_scatter(coords, labels, names)  # Data, Latent
    layers_fig = figures.layers_figure([("input", coords), ("h1", coords)], labels, names)  # Layers, Methods
    explore_fig = figures.explore_scatter(coords, np.arange(40), figures.explore_marker(labels, "classes", names))
    maps_fig = figures.image_grid_figure("data:,", 2, 5, values=np.arange(10), overlay="majority", class_names=names)
    fj = lambda fig: fig.to_plotly_json()["data"]
    colours = {
        "data": _colour_of(fj(data_fig)[0]["marker"], 3),
        "layers": _colour_of(fj(layers_fig)[1]["marker"], 3),
        "explore": _colour_of(fj(explore_fig)[0]["marker"], 3),
        "maps": _colour_of({**fj(maps_fig)[0], "cmin": fj(maps_fig)[0]["zmin"], "cmax": fj(maps_fig)[0]["zmax"]}, 3),
    }
    assert set(colours.values()) == {figures.class_colors(10)[3]}, colours
    assert figures.class_color(3) == figures.class_colors(10)[3] != figures.class_colors(10)[2]
    assert len(set(figures.class_colors(10))) == 10


RED_GREEN = {"#2ca02c", "#d62728", "#ff0000", "#00ff00", "#008000", "red", "green"}


def _hue(hex_colour):
    import colorsys

    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def test_correct_and_wrong_are_colour_blind_safe():
    labels, preds = np.array([0, 1, 2, 3]), np.array([0, 1, 0, 0])
    layers = figures.layers_figure(
        [("a", np.zeros((4, 2)))], labels, ["a", "b", "c", "d"], predictions=preds, colour="correct"
    ).to_plotly_json()["data"][0]["marker"]
    explore = figures.explore_marker((preds != labels).astype(int), "agreement")
    for marker in (layers, explore):
        colours = {c.lower() for _, c in marker["colorscale"]}
        assert len(colours) == 2 and not colours & RED_GREEN, colours
        for c in colours:  # neither a red (hue < 20° or > 340°) nor a green (90°–150°)
            h = _hue(c)
            assert 20 <= h <= 340 and not 90 <= h <= 150, (c, h)
    assert figures.CORRECT_COLORS == {True: "#0072B2", False: "#E69F00"}
    assert figures.AGREEMENT_COLORS == ["#0072B2", "#E69F00"]


def test_filter_greys_out_without_rescaling():
    coords = np.array([[0, 0], [10, 0], [0, 5], [10, 5], [5, 2]], dtype=np.float32)
    marker = figures.explore_marker(np.zeros(5, dtype=int), "classes", ["a"])
    every = figures.explore_scatter(coords, np.arange(5), marker).to_plotly_json()
    some = figures.explore_scatter(coords, np.array([4]), marker, greyed=[0, 1, 2, 3]).to_plotly_json()
    for axis in ("xaxis", "yaxis"):
        assert every["layout"][axis]["range"] == some["layout"][axis]["range"]
    xr, yr = some["layout"]["xaxis"]["range"], some["layout"]["yaxis"]["range"]
    assert xr[0] < 0 and xr[1] > 10 and yr[0] < 0 and yr[1] > 5  # every sample inside, not only the shown one
    shown, rings, grey = some["data"]
    assert list(shown["customdata"]) == [4]
    assert sorted(zip(grey["x"], grey["y"])) == sorted(map(tuple, coords[:4].tolist()))
    assert grey["marker"]["color"] == figures.UNSELECTED_GREY and grey["hoverinfo"] == "skip"
    assert len(every["data"][2]["x"]) == 0

"""The clickable class legend's rules (dashboard/legend.py)."""

import numpy as np

from dashboard import legend
from dashboard.figures import class_colors


def test_toggle_hides_then_shows():
    assert legend.toggle([], 3) == [3]
    assert legend.toggle([1, 3], 3) == [1]


def test_isolate_then_show_all():
    alone = legend.isolate([], 2, 5)
    assert alone == [0, 1, 3, 4]
    assert legend.isolate(alone, 2, 5) == []  # isolating it again shows every class
    assert legend.isolate([0], 4, 5) == [0, 1, 2, 3]  # from any other state: that class alone


def test_opacity_fades_hidden_classes_only():
    labels = np.array([0, 1, 2, 1, 0])
    assert legend.opacity(labels, []) == 0.8
    alpha = legend.opacity(labels, [1])
    assert isinstance(alpha, np.ndarray) and alpha.dtype == np.float32  # a typed array, not a list per point
    np.testing.assert_allclose(alpha, [0.8, legend.HIDDEN_OPACITY, 0.8, legend.HIDDEN_OPACITY, 0.8], rtol=1e-6)


def test_chips_use_the_shared_class_colours():
    chips = legend.chips("layers", ["zero", "one", "two"], hidden=[1])
    buttons = [c for c in chips if getattr(c, "className", "").startswith("class-chip")]
    assert [b.className for b in buttons] == ["class-chip", "class-chip off", "class-chip"]
    swatches = [b.children[0].style["background"] for b in buttons]
    assert swatches == class_colors(3)

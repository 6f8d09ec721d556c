"""Sparse generative landscapes on digits: few latent units fire per image, reconstructions stay
recognisable, and the consistency table has every column for 3 models. Plus the pure pieces."""
from __future__ import annotations

import numpy as np
import pytest

from models.store import RunStore
from models.studies import landscape as ls
from models.studies import landscape_clusters as clusters

EPOCHS = 40       # the default: the L1 weight is tuned for it (fewer epochs leave the code too sparse)
RECON_ACC = 0.6  # kNN (trained on the images) accuracy on the reconstructions; chance is 0.1


def test_significant_and_active_units():
    Z = np.array([[1.0, 0, 0, 0], [0.2, 0.1, 0, 0], [0, 0, 0, 3.0], [0.05, 0, 0, 0]])
    assert clusters.significant(Z, (0, 1, 2), 0.25).tolist() == [0, 1]   # sums 1, .3, 0, .05 vs max 1
    assert clusters.active_units(Z, 0.1).tolist() == [1, 2, 1, 1]


def test_consistency_row_columns():
    sizes = np.array([50, 40, 5, 30])
    classes = np.array([1, 2, 3, 1])
    conf = np.array([0.9, 0.7, 0.9, 0.3])
    row = clusters.consistency_row(sizes, classes, conf, n_samples=1000, n_classes=4, class_names=list("abcd"),
                                   margin=0.02, confidence=0.6)
    assert row["size"] == 3 and row["recognition"] == pytest.approx(2 / 3, abs=1e-3)
    assert row["completeness"] is False and row["highest"] == "b" and row["lowest"] == "c"


def test_sphere_directions_are_unit():
    d = clusters.sphere_directions(8)
    assert d.shape == (8, 3) and np.allclose(np.linalg.norm(d, axis=1), 1)


def test_bad_config():
    with pytest.raises(ValueError, match="models"):
        ls.Config(models=0)
    with pytest.raises(ValueError, match="significance"):
        ls.Config(significance=1.5)


@pytest.mark.slow
def test_landscape_on_digits(store_dir):
    cfg = ls.Config(models=3, epochs=EPOCHS, seed=0)
    run = ls.run(cfg, store=RunStore(store_dir))
    m = run.metrics
    assert 2 <= m["median_active_units"] <= 4, m["median_active_units"]
    assert m["recon_knn_accuracy"] >= RECON_ACC, m["recon_knn_accuracy"]
    rows = m["landscape"]
    assert len(rows) == 3
    for row in rows:
        for col in ls.TABLE_COLUMNS:
            assert col in row, col
        assert row["size"] >= 1
    g = run.arrays("model1")
    S, C = g["sizes"].shape
    assert S >= 1 and g["images"].shape == (S, C, 8, 8) and g["spheres"].shape[:4] == (S, C, 3, 8)
    assert (g["sizes"][:, :-1] >= g["sizes"][:, 1:]).all()           # clusters ordered by size

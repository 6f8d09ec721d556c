"""The torch SOM: BMUs match brute force, schedules decay as stated, hex lattice geometry,
training lowers quantization error and keeps the map ordered."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.nets.lattice import lattice_positions, parse_lattice
from models.nets.som import SOM


def test_bmu_matches_brute_force():
    rng = np.random.default_rng(0)
    som = SOM(6, 7, 5, seed=1)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    W = som.prototypes.numpy()
    brute = np.array([np.argmin(((W - x) ** 2).sum(1)) for x in X])
    assert np.array_equal(som.bmu(X), brute)
    assert som.bmu(X, batch_size=7).tolist() == brute.tolist()  # chunking changes nothing


def test_schedules_decay_exponentially():
    som = SOM(4, 4, 3, sigma0=10, eta0=0.3, alpha=2000)
    assert som.sigma(0) == pytest.approx(10) and som.eta(0) == pytest.approx(0.3)
    assert som.sigma(2000) == pytest.approx(10 / math.e) and som.eta(4000) == pytest.approx(0.3 / math.e**2)
    values = [som.sigma(n) for n in range(0, 10_000, 1000)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_hex_lattice_has_six_unit_neighbours():
    pos = lattice_positions(5, 6, "hex")
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    inner = 2 * 6 + 2  # row 2, column 2
    assert np.sum(np.isclose(d[inner], 1.0)) == 6
    assert d[inner][d[inner] > 0].min() == pytest.approx(1.0)
    som = SOM(5, 6, 2, lattice="hex")
    assert int(som.adjacent[inner].sum()) == 6
    rect = SOM(5, 6, 2, lattice="rect")
    assert int(rect.adjacent[inner].sum()) == 8  # rectangular: diagonals are neighbours too


def test_single_sample_step_is_the_online_rule():
    som = SOM(3, 4, 2, sigma0=1.0, eta0=0.1, alpha=1e9, seed=0)
    W0 = som.prototypes.clone()
    x = torch.tensor([[0.3, 0.9]])
    k = int(som.bmu(x)[0])
    som.step(x)
    h = torch.exp(-som.lattice_d2[k] / 2)
    expected = W0 + (0.1 * h)[:, None] * (x - W0)
    assert torch.allclose(som.prototypes, expected, atol=1e-6)


def test_training_orders_the_map():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(2000, 2)).astype(np.float32)
    som = SOM(8, 8, 2, sigma0=3, eta0=0.3, alpha=1500, seed=0)
    som.prototypes = torch.rand(64, 2) * 0.01
    qe0 = som.quantization_error(X)
    som.fit(X, iterations=8000, batch_size=32, init=None)
    assert som.quantization_error(X) < qe0 / 3
    assert som.topographic_error(X) < 0.15
    hits = som.hits(X)
    assert hits.shape == (8, 8) and hits.sum() == 2000
    u = som.u_matrix()
    assert u.shape == (8, 8) and np.all(u > 0)
    state = som.state_dict()
    other = SOM(8, 8, 2).load_state_dict(state)
    assert np.array_equal(other.bmu(X), som.bmu(X))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="lattice"):
        SOM(3, 3, 2, lattice="triangle")
    with pytest.raises(ValueError, match="sigma0"):
        SOM(3, 3, 2, sigma0=0)
    with pytest.raises(ValueError, match=r"n×2"):
        SOM(3, 3, 2).bmu(np.zeros((4, 3)))
    assert parse_lattice("20x30") == (20, 30)
    with pytest.raises(ValueError, match="ROWSxCOLS"):
        parse_lattice("20-30")

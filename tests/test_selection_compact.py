"""The compact selection (issue 22): what the browser writes after a box/lasso in a big view — a base64 bitmask
over sample ids — read back by the one accessor every server reader uses (``selection.ids_in``)."""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from dashboard import legend
from dashboard import selection as sel


def test_compact_round_trips_and_ids_in_reads_both_forms():
    ids = [0, 7, 8, 9, 63, 64, 69_999]
    c = sel.compact("mnist:test", ids)
    assert c["n"] == 7 and c["size"] == 70_000 and "ids" not in c
    assert len(base64.b64decode(c["bits"])) == 70_000 // 8  # one bit per sample id, not a number per id
    assert sel.ids_in(c, "mnist:test") == ids
    assert sel.ids_in(c, "mnist:train") == []  # another space: none
    assert sel.ids_in({"space": "mnist:test", "ids": [3, 1]}, "mnist:test") == [3, 1]
    assert sel.count(c) == 7 and sel.label(c) == "7 selected"
    assert sel.positions(c, "mnist:test", np.array([9, 5, 64, 0])) == [0, 2, 3]


def test_the_browsers_bit_order_is_little_endian_within_a_byte():
    # assets/selection.js sets bit (id & 7) of byte (id >> 3)
    raw = bytes([0b0000_0101, 0b1000_0000])  # ids 0, 2 and 15
    got = sel.decode({"space": "s", "n": 3, "size": 16, "bits": base64.b64encode(raw).decode()})
    assert got.tolist() == [0, 2, 15]
    # size cuts the mask: bits past it are not samples
    assert sel.decode({"space": "s", "size": 3, "bits": base64.b64encode(raw).decode()}).tolist() == [0, 2]


def test_malformed_or_oversized_selections_hold_nothing_and_allocate_nothing():
    assert sel.decode({"space": "s", "bits": "not base64!"}).size == 0
    assert sel.decode({"space": "s", "bits": "AA==", "size": 10**12}).size == 0  # size capped by the bytes sent
    assert sel.decode({"space": "s", "ids": "x"}).size == 0
    assert sel.decode({"space": "s", "ids": [-3, 2]}).tolist() == [2]
    assert sel.decode(None).size == 0 and sel.count(None) == 0
    try:
        sel.compact("s", [sel.MAX_IDS])
    except ValueError as exc:
        assert "sample ids" in str(exc)
    else:
        raise AssertionError("an id past MAX_IDS was accepted")


def test_combine_keeps_modes_and_goes_compact_when_big():
    big = sel.compact("d:train", range(0, 10_000, 2))  # 5,000 ids, as the browser writes them
    added = sel.combine(big, "d:train", [1, 3], "add")
    assert "bits" in added and sel.count(added) == 5_002
    taken = sel.combine(big, "d:train", range(0, 10_000, 4), "subtract")
    assert sel.ids_in(taken, "d:train") == list(range(2, 10_000, 4))
    small = sel.combine(big, "d:train", [5], "replace")
    assert small == {"space": "d:train", "ids": [5]}


def test_mark_names_the_space_traces_and_id_lookup():
    fig = go.Figure([go.Scattergl(x=[0, 1], y=[0, 1], customdata=[1, 0])])
    fig.layout.meta = {"ranges": [[0, 1]]}
    sel.mark(fig, "digits:test", [0], lookup=np.array([40, 41]))
    meta = fig.layout.meta
    assert meta["ranges"] == [[0, 1]]  # what was there stays
    record = meta["selection"]
    assert record["space"] == "digits:test" and record["traces"] == [0] and record["key"] == "customdata"
    assert np.frombuffer(base64.b64decode(record["lookup"]), dtype="<i4").tolist() == [40, 41]


def test_legend_fade_goes_as_a_typed_array():
    alpha = legend.opacity(np.array([0, 1, 0]), [1])
    spec = legend.typed(alpha)
    assert spec["dtype"] == "f4"
    np.testing.assert_allclose(np.frombuffer(base64.b64decode(spec["bdata"]), "<f4"), [0.8, legend.HIDDEN_OPACITY, 0.8])
    assert legend.typed(0.8) == 0.8

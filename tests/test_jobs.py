"""The job panel's reporter: rate-limited within a phase, never hiding a new phase or the end."""
from __future__ import annotations

from dashboard.jobs import reporter
from models.progress import Progress


def test_reporter_sends_new_phases_and_the_end_but_thins_epochs():
    sent: list[tuple] = []
    forward = reporter(sent.append, "train", every=60.0)  # nothing is "old enough" within this test
    forward(Progress(0, 10, "loading data"))
    for epoch in range(1, 8):  # a fast phase: only its first update passes the rate limit
        forward(Progress(epoch * 0.5, 10, "training", {"loss": 1.0 / epoch}))
    forward(Progress(5, 10, "projecting 5 layers"))  # the long phase that follows must show at once
    forward(Progress(10, 10, "done"))
    assert [s[0] for s in sent] == [0, 5, 50, 100]
    assert sent[1][2].startswith("train: training") and "loss 1" in sent[1][2]
    assert sent[2][2] == "train: projecting 5 layers"
    assert sent[-1][1] == "100%"

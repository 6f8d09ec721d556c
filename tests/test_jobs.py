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


# -- errors: a person's mistake is a message, a bug keeps its traceback ---------------------------------
def _job_app(tmp_path, work):
    """A bare Dash app with one @job ``work`` (the button "go"); returns (the callback, the job records)."""
    from types import SimpleNamespace

    import dash
    import diskcache

    from dashboard.job_records import JobRecords
    from dashboard.jobs import job

    app = dash.Dash("jobs-test", background_callback_manager=dash.DiskcacheManager(diskcache.Cache(tmp_path / "dc")))
    app.server.config["LAYERSCOPE"] = SimpleNamespace(store_dir=tmp_path)
    job(app, trigger="go", title="test job")(work)
    (entry,) = app.callback_map.values()
    return entry["callback"].__wrapped__, JobRecords(tmp_path / ".jobs.sqlite")


def _failed_job(tmp_path, capsys, exc: Exception) -> tuple[str, str]:
    def work(progress):
        raise exc

    callback, records = _job_app(tmp_path, work)
    callback(1, 0, "session")
    (record,) = records.recent()
    assert record.status == "failed"
    return record.message, capsys.readouterr().err


def test_a_users_mistake_in_a_job_is_its_message_without_a_traceback(tmp_path, capsys):
    from models.errors import ConfigError

    message, log = _failed_job(tmp_path, capsys, ConfigError("epochs must be an integer ≥ 1 (got 0)"))
    assert message == "test job: epochs must be an integer ≥ 1 (got 0)"
    assert "Traceback" not in log


def test_a_bug_in_a_job_keeps_its_type_and_its_traceback_in_the_log(tmp_path, capsys):
    message, log = _failed_job(tmp_path, capsys, ValueError("operands could not be broadcast"))
    assert message == "test job: ValueError: operands could not be broadcast"
    assert "Traceback" in log and "operands could not be broadcast" in log

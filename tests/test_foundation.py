"""The boundaries the architecture promises: models/ never imports Dash or Plotly, importing
models is light (no torch), the command line's flags, the progress protocol, the fit loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models.progress import Cancelled, Progress, report, scaled

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_models_never_import_dash_or_plotly():
    code = (
        "import models, models.datasets, models.store, models.cache, models.progress, models.projections, "
        "models.training"
    )
    for sub in sorted(p.stem for p in (ROOT / "models" / "studies").glob("*.py") if p.stem != "__init__"):
        code += f", models.studies.{sub}"
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.split(".")[0] in {"dash", "plotly", "dash_bootstrap_components"}}


def test_models_source_has_no_dash_imports():
    offenders = [
        str(p)
        for p in (ROOT / "models").rglob("*.py")
        if any(
            line.strip().startswith(("import dash", "from dash", "import plotly", "from plotly"))
            for line in p.read_text().splitlines()
        )
    ]
    assert offenders == []


def test_importing_models_and_the_web_app_does_not_import_torch():
    loaded = _modules_after("import models, models.datasets, models.store, dashboard.app")
    assert "torch" not in loaded


def test_app_help_lists_flags():
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True)
    for flag in ("--host", "--port", "--data-dir", "--store-dir", "--cache-dir", "--debug"):
        assert flag in out.stdout


def test_app_unknown_dataset_is_a_clear_error(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "app.py",
            "--dataset",
            "nope",
            "--store-dir",
            str(tmp_path / "r"),
            "--cache-dir",
            str(tmp_path / "c"),
            "--data-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "error: unknown dataset 'nope'" in out.stderr and "Traceback" not in out.stderr


def test_app_defaults_are_safe():
    sys.path.insert(0, str(ROOT))
    import app

    args = app.parse_args([])
    assert args.host == "127.0.0.1" and args.port == 8050 and args.debug is False


def test_progress_protocol():
    seen = []
    report(seen.append, 1, 4, "step", loss=0.5)
    assert seen[0] == Progress(1.0, 4.0, "step", {"loss": 0.5}) and seen[0].fraction == 0.25
    with pytest.raises(Cancelled):
        report(lambda p: True, 1, 2, "stop me")
    inner = scaled(seen.append, 0.5, 1.0)
    inner(Progress(1, 2, "half"))
    assert seen[-1].fraction == pytest.approx(0.75)
    report(None, 1, 2)  # no callback, no error


def test_fit_trains_stops_early_and_cancels():
    import torch

    from models.training import batches, fit, seed_everything

    gen = seed_everything(0)
    X = torch.randn(256, 4, generator=gen)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    step = lambda m, b: ((m(b[0]).squeeze(1) - b[1]) ** 2).mean()
    val = lambda m: {"val_loss": float(((m(X).squeeze(1) - y) ** 2).mean())}
    hist = fit(
        model,
        opt,
        step,
        batches(X, y, batch_size=32, generator=gen),
        epochs=200,
        validate=val,
        patience=3,
        min_delta=1e-9,
    )
    assert hist.epochs[-1]["loss"] < 1e-3 * hist.epochs[0]["loss"]
    assert hist.stopped_early and len(hist.epochs) < 200

    calls = []

    def cancel_after_two(p):
        calls.append(p)
        return p.done >= 2

    with pytest.raises(Cancelled):
        fit(model, opt, step, batches(X, y, batch_size=32), epochs=50, progress=cancel_after_two)
    assert max(p.done for p in calls) == 2

    bad = torch.optim.SGD(model.parameters(), lr=1e6)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(model, bad, step, batches(X, y * 1e6, batch_size=32), epochs=20)


def test_fit_uses_the_default_device():
    import torch

    from models.training import default_device

    assert default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert default_device("cpu").type == "cpu"

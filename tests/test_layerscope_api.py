"""``layerscope`` beside a researcher's own ``models`` package: ours is loaded as ``layerscope._core``.

Each scenario runs in a fresh interpreter, so what is imported first is exactly what the scenario says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# runs in the researcher's repository: their `models` first on sys.path, ours after it (pip install -e)
RESEARCHER_SCRIPT = """
import json, sys
from pathlib import Path

import models                       # theirs
assert models.WHO == "theirs", models.__file__

import numpy as np
import torch
from torch import nn

import layerscope
from layerscope import Capture, activations, layers, load_run, steps


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64, 12)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


work = Path(sys.argv[1])
torch.manual_seed(0)
net = Net().eval()
with Capture(work / "runs", dataset="digits", model=net, layers=["fc1", "fc2"], per_class=3,
             data_dir=work / "data") as cap:
    for step in range(2):
        cap.add(step=step)
        with torch.no_grad():
            net.fc1.weight.mul_(2.0)
run = load_run(work / "runs")
assert run.id == cap.run_id and steps(run) == [0, 1], steps(run)
assert layers(run)[0]["name"] == "fc1", layers(run)
a, b = (np.asarray(activations(run, "fc1", step=s)) for s in (0, 1))
assert a.shape == b.shape == (30, 12) and not np.allclose(a, b)

# a state_dict with a sidecar names one of OUR architectures: found in ours, not in their `models`
mlp = layerscope._loader.module("nets.mlp").MLP(64, 10, depth=2, width=20, activation="relu")
(work / "data" / "models").mkdir(parents=True)
torch.save(mlp.state_dict(), work / "data" / "models" / "mlp.pt")
(work / "data" / "models" / "mlp.pt.json").write_text(json.dumps(
    {"architecture": "mlp", "args": {"in_features": 64, "n_classes": 10, "depth": 2, "width": 20,
                                     "activation": "relu"}}))
with Capture(work / "runs", dataset="digits", model="mlp.pt", per_class=2, data_dir=work / "data") as cap2:
    cap2.add()
assert steps(load_run(work / "runs", cap2.run_id)) == [0]

assert models.WHO == "theirs" and sys.modules["models"] is models
ours = Path(sys.argv[2]).resolve()
leaked = sorted(name for name, mod in list(sys.modules.items())
                if (name == "models" or name.startswith("models."))
                and ours in Path(getattr(mod, "__file__", None) or "/").resolve().parents)
assert not leaked, leaked
assert layerscope._loader.core().__name__ == "layerscope._core"
print("OK", len([n for n in sys.modules if n.startswith("layerscope._core.")]))
"""

# runs in our repository, the way the app, the tests and our command lines start: `models` is ours
OUR_TOOLS_SCRIPT = """
import sys
from pathlib import Path

import models
from models import datasets
from models.store import RunStore

import layerscope
from torch import nn

assert layerscope._loader.core() is models
assert "layerscope._core" not in sys.modules  # one copy: classes are identical
work = Path(sys.argv[1])
ds = datasets.load("digits", per_class=2, normalize=False)
net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
with layerscope.Capture(work / "runs", dataset=ds, model=net) as cap:
    cap.add(step=0)
    cap.add(step=1)
assert isinstance(cap.run, models.store.Run)
assert layerscope.steps(RunStore(work / "runs").load(cap.run_id)) == [0, 1]
assert not [n for n in sys.modules if n.startswith("layerscope._core")]
print("OK")
"""


def _python(script: str, cwd: Path, work: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess:
    path = cwd / "script.py"
    path.write_text(textwrap.dedent(script))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    return subprocess.run(
        [sys.executable, str(path), str(work), str(ROOT)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_capture_from_a_repository_with_its_own_models_package(tmp_path):
    theirs = tmp_path / "their_repo"
    (theirs / "models").mkdir(parents=True)
    (theirs / "models" / "__init__.py").write_text('WHO = "theirs"\n')
    for name in ("store", "datasets", "studies", "capture", "nets"):  # our module names, poisoned
        (theirs / "models" / f"{name}.py").write_text(f'raise ImportError("their models.{name} was imported")\n')
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    out = _python(RESEARCHER_SCRIPT, theirs, work, [theirs, ROOT])  # ours after theirs: pip install -e
    assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout + out.stderr


def test_our_models_imported_first_is_reused_not_loaded_twice(tmp_path):
    out = _python(OUR_TOOLS_SCRIPT, tmp_path, tmp_path, [ROOT])
    assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout + out.stderr


def test_models_never_imports_itself_by_name():
    """Every import of our own code inside models/ is relative, or layerscope would reach a user's `models`."""
    import re

    absolute = re.compile(r"^\s*(from|import)\s+models\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "models").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if absolute.match(line)
    ]
    assert not found, "\n".join(found)

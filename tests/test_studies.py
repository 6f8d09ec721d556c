"""The study protocol: every study is found by kind, made from a frozen config validated once,
reachable from the command line with every config field as a flag, and its face is light."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from models.studies import STUDIES, studies, study
from models.studies.base import StudyConfig

ROOT = Path(__file__).resolve().parent.parent


def test_registry_finds_every_study_by_kind():
    faces = studies()
    assert len(faces) == len(STUDIES)
    for kind, face in faces.items():
        assert face.KIND == kind and study(kind) is face
        assert isinstance(face.TITLE, str) and face.TITLE
        for name in ("run", "summary", "main"):
            assert callable(getattr(face, name)), f"{kind} lacks {name}"
    with pytest.raises(ValueError, match="kind must be one of"):
        study("no-such-kind")


def _face(module: str):
    """A study's face by its module name (``project`` writes runs of kind ``projection``)."""
    return importlib.import_module(f"models.studies.{module}")


@pytest.mark.parametrize("module", sorted(STUDIES))
def test_config_is_frozen_validated_and_carries_the_seed(module):
    face = _face(module)
    assert study(face.KIND) is face
    config = face.Config()
    assert isinstance(config, StudyConfig) and config.seed == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]
    assert face.Config(seed=7).seed == 7
    with pytest.raises(ValueError, match="seed"):
        face.Config(seed=-1)
    json.dumps(config.record(), default=list)  # what a run stores is JSON-able
    assert face.Config.from_record(config.record()) == config


def test_study_faces_import_without_torch():
    code = "import models.studies as s; s.studies(); import sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("kind", sorted(STUDIES))
def test_help_lists_every_config_field_with_its_default(kind):
    face = _face(kind)
    out = subprocess.run(
        [sys.executable, "-m", f"models.studies.{kind}", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for f in dataclasses.fields(face.Config):
        if f.metadata.get("cli", True):
            flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
            assert flag in out, f"{kind}: {flag} missing from --help"
            assert f.metadata.get("help"), f"{kind}: {f.name} has no help"
    assert "--data-dir" in out and "--store-dir" in out and "(default:" in out

"""The study protocol: what every study module offers, so the command lines, the UI and the
tests reach each study the same way, and a new study is one module (its *face*) plus the
engine beside it.

A study's face (``models/studies/<kind>.py``) imports without torch and holds::

    KIND: str                      # the run kind it writes ("hardness", "gne", ...)
    TITLE: str                     # what the UI's "New run…" menu and --help call it
    Config: type[StudyConfig]      # frozen dataclass, validated once when made, seed included
    run(config, *, store, data_dir=None, progress=None) -> Run
    summary(run) -> Iterable[str]  # the lines its command line prints for a finished run
    main(argv=None) -> int         # the command line: every Config field is a flag
    ... readers of its runs (typed functions the dashboard imports, e.g. kl_table(run))

``run`` is ``lazy_run(f"{__package__}.<kind>_engine")``: the engine (torch, training) is
imported only when a job starts. ``Config`` fields are declared with :func:`option`, whose
``help`` becomes the flag's help line, so the command line and the config never drift apart.
Modelled on FiftyOne brain's Config + Results split (see ../shared/STYLE.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import types
import typing
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import ConfigError, UserError
from ..progress import ProgressFn
from ..validation import check_int

if typing.TYPE_CHECKING:  # pragma: no cover
    from ..store import Run, RunStore


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: Iterable[Any] | None = None,
    cli: bool = True,
    record: bool = True,
) -> Any:
    """A config field with its command-line help.

    ``flag`` overrides the derived ``--field-name``; ``cli=False`` keeps a field off the command
    line (set by code only); ``record=False`` keeps it out of the run's stored config (machine
    settings such as worker counts or the device, which do not change the result).
    """
    meta = {
        "help": help,
        "flag": flag,
        "choices": tuple(choices) if choices is not None else None,
        "cli": cli,
        "record": record,
    }
    return dataclasses.field(default=default, metadata=meta)


def split_option() -> Any:
    """The ``--split`` field every training study shares: which split of ``--dataset`` to train on.

    None means train, or the split that is present when only one is (MNIST with only its test files);
    :func:`with_split` resolves it when the run starts, so the stored config names the split used.
    """
    field = option(
        None,
        "split of --dataset to train on, e.g. test (none: train, or the split that is present "
        "when only one is, e.g. MNIST with only its t10k files)",
    )
    return dataclasses.field(default=None, metadata={**field.metadata, "split": True})


def _unwrap(hint: Any) -> tuple[Any, bool, bool]:
    """(element type, optional?, sequence?) of a field's type hint such as ``tuple[int, ...] | None``."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else str
        origin = typing.get_origin(hint)
    if origin in (tuple, list, typing.Sequence) or hint in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return (args[0] if args else str), optional, True
    return hint, optional, False


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Base of every study's config: the dataset and the seed, validated once when made.

    Subclasses add fields with :func:`option` and override :meth:`check` (called by
    ``__post_init__`` after sequences became tuples); a config never changes after it is made
    (use :meth:`replace`).
    """

    dataset: str = option("digits", "dataset name (python -m models.datasets --list shows them)")
    seed: int = option(0, "seed of every random choice: the same seed gives the same run")

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _, _, sequence = _unwrap(hints[f.name])
            if sequence and value is not None and not isinstance(value, tuple):
                value = (value,) if isinstance(value, str) else tuple(value)
            if isinstance(value, np.integer):
                value = int(value)
            elif isinstance(value, np.floating):
                value = float(value)
            object.__setattr__(self, f.name, value)
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ConfigError(f"dataset must be a dataset name (got {self.dataset!r})")
        check_int("seed", self.seed, low=0)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("split") and value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"split must name a split such as train or test (got {value!r})")
        try:
            self.check()
        except UserError:
            raise
        except ValueError as exc:  # check() only validates: a ValueError it raises names a bad setting
            raise ConfigError(str(exc)) from exc

    def check(self) -> None:
        """Raise :class:`~models.errors.ConfigError` (or ``ValueError``, taken as one) naming the field, the
        value and what was expected."""

    def replace(self, **changes: Any) -> "StudyConfig":
        return dataclasses.replace(self, **changes)

    def record(self) -> dict:
        """The fields stored with a run (machine settings left out)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("record", True)}

    @classmethod
    def from_record(cls, record: dict) -> "StudyConfig":
        """The config a stored run was made with (fields it does not know are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One flag per field, with its default and help."""
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if not meta.get("cli", True):
                continue
            kind, optional, sequence = _unwrap(hints[f.name])
            flag = meta.get("flag") or "--" + f.name.replace("_", "-")
            kwargs: dict[str, Any] = dict(dest=f.name, default=f.default, help=meta.get("help"))
            if kind is bool and not sequence:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = kind if kind in (int, float, str) else str
                if sequence:
                    kwargs["nargs"] = "+"
                    kwargs["default"] = list(f.default) if f.default is not None else None
                if meta.get("choices"):
                    kwargs["choices"] = list(meta["choices"])
                if optional:
                    kwargs["metavar"] = f.name.upper()
            parser.add_argument(flag, **kwargs)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "StudyConfig":
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
        return cls(**values)


RunFn = Callable[..., "Run"]


def lazy_run(engine: str) -> RunFn:
    """A face's ``run``: imports the engine module (torch and all) only when a run starts."""

    def run(
        config: StudyConfig, *, store: "RunStore", data_dir: Any = None, progress: ProgressFn | None = None
    ) -> "Run":
        if not isinstance(config, StudyConfig):
            raise TypeError(f"config must be a study Config (got {type(config).__name__})")
        return importlib.import_module(engine).run(config, store=store, data_dir=data_dir, progress=progress)

    run.__doc__ = f"Run the study with ``config`` and write one run to ``store`` (engine: ``{engine}``)."
    return run


def command_line(face: str) -> Callable[[list[str] | None], int]:
    """A face's ``main``: parse every config flag plus ``--data-dir``/``--store-dir``, run, print.

    Bad input (a config check, an unknown dataset: a :class:`~models.errors.UserError`) prints one
    ``error:`` line and returns 2 with nothing stored; a bug prints its traceback and returns 1 (see
    :func:`models.studies.cli.finish`).
    """

    def main(argv: list[str] | None = None) -> int:
        from ..store import RunStore
        from .cli import finish

        study = importlib.import_module(face)
        name = study.__spec__.name if face == "__main__" and study.__spec__ else face  # run as -m
        doc = (study.__doc__ or study.TITLE).strip().splitlines()[0]
        parser = argparse.ArgumentParser(
            prog=f"python -m {name}", description=doc, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        study.Config.add_arguments(parser)
        parser.add_argument("--data-dir", default="data", help="folder holding the datasets' files")
        parser.add_argument("--store-dir", default="runs", help="folder the run is written to")
        args = parser.parse_args(argv)
        try:
            config = study.Config.from_args(args)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        store = RunStore(args.store_dir)
        store.cleanup()  # what an earlier, killed command line left behind
        return finish(
            lambda progress: study.run(config, store=store, data_dir=args.data_dir, progress=progress), study.summary
        )

    return main


def resolve_split(dataset: str, split: str | None, data_dir: Any = None) -> str:
    """The split of ``dataset`` a study uses: ``split`` when given (a built-in dataset must have its
    files, else a ``DatasetError`` naming the splits that are present), else
    :func:`models.datasets.default_split` (train, or the split that is present)."""
    from .. import datasets

    if split is None:
        return datasets.default_split(dataset, data_dir)
    if ":" in dataset or dataset not in datasets.available():
        return split
    entry = datasets.describe(dataset)
    if split not in entry.splits:
        raise datasets.DatasetError(f"{dataset} has no split {split!r}; choose one of {', '.join(entry.splits)}")
    present = datasets.present_splits(dataset, data_dir)
    if split not in present:
        raise datasets.DatasetError(
            f"{datasets.missing_message(dataset, datasets.DEFAULT_DATA_DIR if data_dir is None else data_dir, split)}"
            f" (present splits: {', '.join(present) or 'none'}; choose one with --split)"
        )
    return split


def with_split(config: "StudyConfig", data_dir: Any = None) -> "StudyConfig":
    """``config`` with its ``split`` resolved (:func:`resolve_split`), so the run's stored config
    (its manifest) names the split it was trained on."""
    return config.replace(split=resolve_split(config.dataset, config.split, data_dir))


def check_kind(run: "Run", kind: str) -> "Run":
    """``run`` if it is of ``kind``; a reader handed another study's run says so."""
    if run.kind != kind:
        raise UserError(f"run {run.id} is a {run.kind} run, not a {kind} run")
    return run


__all__ = [
    "StudyConfig",
    "option",
    "split_option",
    "resolve_split",
    "with_split",
    "lazy_run",
    "command_line",
    "check_kind",
]

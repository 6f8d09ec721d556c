"""What the Compare tab reads: the runs a comparison can start from, the form → the study's config,
and a compare run's numbers (the contract of ``models.studies.compare``: ``manifest["metrics"]``
holds ``cka``, ``cka_steps``, ``probe``/``knn`` (+ ``_steps``), ``hardness`` and ``movers``, the
movers' per-sample arrays are in ``movers.npz``).

No Dash here: functions take a run (or the config) and return plain values, so the callbacks stay
thin and the tests call these directly. The study face is imported lazily, inside the functions
that need it, so this tab loads in a checkout whose compare study is not installed yet.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from models.errors import UserError
from models.store import Run
from models.studies import capture as capture_face
from models.studies import hardness as hardness_face

from ... import state
from ...config import AppConfig

KIND = "compare"
SOURCE_KINDS = (capture_face.KIND, hardness_face.KIND)  # runs whose layers a comparison reads
METRICS = (("linear", "linear CKA"), ("linear-debiased", "linear CKA, debiased (minibatch)"), ("rbf", "RBF CKA"))
MOVERS_SHOWN = 48  # thumbnails in the movers list (the most moved first)
NETWORK_SEP = ":"  # one network of a hardness run, as the study names it: "<run>:<network>"


# -- sources -------------------------------------------------------------------------------------
def source_runs(config: AppConfig, dataset: str | None) -> list[Run]:
    """Capture and hardness runs of ``dataset``, newest first."""
    return [r for r in config.store.list(dataset=dataset) if r.kind in SOURCE_KINDS]


def source_options(runs: Sequence[Run]) -> list[dict]:
    """One option per capture run and per network of a hardness run (``RUN:NETWORK``, as the study names it)."""
    options = []
    for r in runs:
        created = r.manifest.get("created", "")[:16].replace("T", " ")
        if r.kind == capture_face.KIND:
            records = r.manifest.get("capture", {}).get("steps", [])
            model = records[-1].get("model", "") if records else ""
            many = f" · {len(records)} steps" if len(records) > 1 else ""
            options.append({"label": f"{r.id} · {model}{many} · {created}", "value": r.id})
        else:
            options += [
                {"label": f"{r.id} · network {net['name']} · {created}", "value": f"{r.id}{NETWORK_SEP}{net['name']}"}
                for net in hardness_face.networks(r)
            ]
    return options


def split_ref(ref: str | None) -> tuple[str | None, str | None]:
    """(run id, network or None) of a source's name."""
    if not ref:
        return None, None
    run_id, _, network = str(ref).partition(NETWORK_SEP)
    return run_id, network or None


def open_source(config: AppConfig, ref: str | None) -> tuple[Run | None, str | None]:
    """(the run a source names, its network): (None, None) when it is gone."""
    run_id, network = split_ref(ref)
    try:
        return (state.run(config, run_id), network) if run_id else (None, None)
    except Exception:
        return None, None


def comparable(config: AppConfig, ref: str | None) -> list[str]:
    """The sources holding the same samples as ``ref`` (what run B may be); [] without ``ref``."""
    if not ref:
        return []
    from models.studies import compare

    try:
        return compare.comparable_runs(config.store, ref)
    except (ValueError, OSError, KeyError):
        return []


def source_steps(run: Run | None) -> list[int]:
    """The steps of a capture run (checkpoints); a hardness network has one (none to choose)."""
    return capture_face.steps(run) if run is not None and run.kind == capture_face.KIND else []


def source_layers(run: Run | None, network: str | None = None) -> list[str]:
    """The layers a comparison may use, in network order (a hardness run: those of ``network``, default its first)."""
    if run is None:
        return []
    if run.kind == capture_face.KIND:
        return [layer["name"] for layer in capture_face.layers(run)]
    nets = hardness_face.networks(run)
    net = next((n for n in nets if n["name"] == network), nets[0] if nets else None)
    return list(net["layers"]) if net else []


def metric_choices() -> list[tuple[str, str]]:
    """(value, label) of the similarity measures: the study's own choices when it declares them."""
    try:
        from models.studies import compare
    except ImportError:
        return list(METRICS)
    field = next((f for f in dataclasses.fields(compare.Config) if f.name == "metric"), None)
    choices = (field.metadata.get("choices") if field is not None else None) or [v for v, _ in METRICS]
    labels = dict(METRICS)
    return [(c, labels.get(c, c)) for c in choices]


def compare_config(
    dataset: str,
    run_a: str | None,
    run_b: str | None,
    steps: Sequence | None,
    layers: Sequence[str] | None,
    metric: str | None,
    available_steps: Sequence[int] = (),
    available_layers: Sequence[str] = (),
    k=None,
):
    """The study's ``Config`` from the form (``ValueError`` naming the field to fix).

    Every step or every layer ticked is sent as "all" (None), so the run's config reads as the
    command line would have written it.
    """
    if not run_a:
        raise UserError("pick run A: a capture run (Your model tab) or a hardness run (Layers / Hardness tab)")
    if run_b and run_b == run_a:
        raise UserError("run B is run A: pick another run, or none to compare A's layers with each other")
    steps = sorted(int(s) for s in steps or [])
    if available_steps and not steps:
        raise UserError("tick at least one step")
    layers = [l for l in available_layers if l in set(layers or [])] if available_layers else list(layers or [])
    if available_layers and len(layers) < (1 if run_b else 2):
        raise UserError("tick at least two layers (or one layer and a run B)")
    from models.studies import compare

    record: dict[str, Any] = {
        "dataset": dataset,
        "runs": (run_a, run_b) if run_b else (run_a,),
        "steps": None if not steps or set(steps) == set(available_steps) else tuple(steps),
        "layers": None if not layers or layers == list(available_layers) else tuple(layers),
    }
    if metric:
        record["metric"] = metric
    if k not in (None, ""):
        try:
            record["k"] = int(k)
        except (TypeError, ValueError):
            raise UserError(f"k must be a whole number of neighbours from 2 to 200 (got {k!r})") from None
        if not 2 <= record["k"] <= 200:
            raise UserError(f"k must be from 2 to 200 (got {record['k']})")
    return compare.Config.from_record(record)


# -- a compare run's numbers ------------------------------------------------------------------------
def cka(run: Run | None) -> dict | None:
    """``{"layers_a", "layers_b", "matrix", "metric", "run_a", "run_b", "step_a", "step_b"}`` or None."""
    found = (run.metrics.get("cka") if run is not None else None) or None
    if not found or not found.get("layers_a") or not found.get("layers_b"):
        return None
    return found


def cka_steps(run: Run | None) -> dict | None:
    """``{"layers", "steps", "matrix"}`` when the run compared over more than one step, else None."""
    found = (run.metrics.get("cka_steps") if run is not None else None) or None
    if not found or len(found.get("steps") or []) < 2:
        return None
    return found


def metric_label(found: dict) -> str:
    return dict(METRICS).get(str(found.get("metric", "linear")), f"{found.get('metric')} CKA")


def axis_titles(found: dict) -> tuple[str, str]:
    """(row title, column title) of the layer × layer heatmap: model A × model B, or A's layers twice."""
    if found.get("run_b"):
        return f"A · step {found.get('step_a')}", f"B · step {found.get('step_b')}"  # the run ids: in the status line
    if found.get("step_b") is not None and found.get("step_a") != found.get("step_b"):
        return f"step {found.get('step_a')}", f"step {found.get('step_b')}"
    return f"layer (step {found.get('step_a')})", "layer"


def curve_panels(run: Run | None) -> list[tuple[str, dict, bool]]:
    """The inputs of :func:`.figures.depth_curves`: probe and kNN accuracy (one line per step when the run
    has several, else one per model), and hardness (KL) when the run holds it."""
    from .figures import split_lines, step_lines

    if run is None:
        return []
    metrics, panels = run.metrics, []
    for key, title in (("probe", "linear-probe accuracy"), ("knn", "k-NN accuracy")):
        by_step = metrics.get(f"{key}_steps") or {}
        models = split_lines(metrics.get(key) or {})
        if len(by_step) > 1:  # a line per step of A, and B's when there is a B
            two = "B" in models
            lines = {(f"A · {name}" if two else name): line for name, line in step_lines(by_step).items()}
            lines.update({"B": models["B"]} if two else {})
        else:
            lines = models
        panels.append((title, lines, True))
    if metrics.get("hardness"):
        panels.append(("hardness (t-SNE KL)", split_lines(metrics["hardness"]), False))
    return panels


def movers(run: Run | None) -> dict | None:
    """The run's stored movers: ``{"from", "to", "k", "index", "kept", "labels"}``, most moved first."""
    info = (run.metrics.get("movers") if run is not None else None) or None
    if not info:
        return None
    try:
        arrays = state.arrays(run, str(info.get("file", "movers.npz")).removesuffix(".npz"))
    except Exception:
        return None
    return ranked({**info, "index": arrays["index"], "kept": arrays["kept"], "labels": arrays.get("labels")})


def ranked(found: dict, limit: int = MOVERS_SHOWN) -> dict:
    """The ``limit`` samples that kept the smallest share of their neighbours, least kept first (ties:
    dataset order), as plain lists a ``dcc.Store`` can carry."""
    index = np.asarray(found["index"], dtype=np.int64)
    kept = np.asarray(found["kept"], dtype=float)
    if index.shape != kept.shape:
        raise ValueError(f"movers: {index.shape[0]} indices but {kept.shape[0]} shares kept")
    order = np.lexsort((index, np.where(np.isfinite(kept), kept, np.inf)))[:limit]
    labels = found.get("labels")
    out = {k: found[k] for k in ("from", "to", "k") if k in found}
    out.update(
        index=index[order].tolist(),
        kept=kept[order].tolist(),
        total=int(index.size),
        mean_kept=float(np.nanmean(kept)) if kept.size else float("nan"),
        labels=None if labels is None else np.asarray(labels)[order].astype(int).tolist(),
    )
    return out


# -- a click on a cell -----------------------------------------------------------------------------
def clicked_cell(point: dict, rows: Sequence, cols: Sequence) -> tuple | None:
    """(row, column) of a clicked heatmap cell: the heatmaps draw on integer axes (x = column, y = row);
    None for a point outside them (Plotly's heatmap clicks carry x/y, not always the cell's customdata)."""
    try:
        x, y = int(round(float(point["x"]))), int(round(float(point["y"])))
    except (KeyError, TypeError, ValueError):
        return None
    if not (0 <= y < len(rows) and 0 <= x < len(cols)):
        return None
    return rows[y], cols[x]


def _ref(run_id: str, step, layer: str, network: str | None = None) -> dict:
    ref = {"run": run_id, "step": None if step is None else int(step), "layer": layer}
    if network:
        ref["network"] = network
    return ref


def cell_pair(found: dict, row: str, col: str) -> tuple[dict, dict]:
    """(reference of the row layer, of the column layer) of a layer × layer (or A × B) cell."""
    run_a, run_b = found["run_a"], found.get("run_b")
    net_a = found.get("network_a")
    net_b = found.get("network_b") if run_b else net_a
    step_b = found.get("step_b") if found.get("step_b") is not None else found.get("step_a")
    return _ref(run_a, found.get("step_a"), row, net_a), _ref(run_b or run_a, step_b, col, net_b)


def step_pair(found: dict, cka_: dict, layer: str, step) -> tuple[dict, dict]:
    """(the layer at ``step``, the same layer at the last step) of a layer × step cell of run A."""
    run_a, net = cka_["run_a"], cka_.get("network_a")
    return _ref(run_a, step, layer, net), _ref(run_a, found["steps"][-1], layer, net)


def layers_jump(store, ref_a: dict, ref_b: dict) -> tuple[dict, str]:
    """(the shell's ``focus`` for Layers, a note): the run of ``ref_a`` at its step with both layers marked.

    Layers draws one run, so a pair across two runs opens A's layer there; the note says where B's is.
    """
    try:
        run = store.load(ref_a["run"])
    except Exception:
        run = None
    same = (ref_b["run"], ref_b.get("network")) == (ref_a["run"], ref_a.get("network"))
    names = list(dict.fromkeys([ref_a["layer"], ref_b["layer"]] if same else [ref_a["layer"]]))
    focus: dict[str, Any] = {"tab": "layers", "run": ref_a["run"], "layer": ref_a["layer"], "layers": names}
    if run is not None and run.kind == hardness_face.KIND:
        focus.update(network=ref_a.get("network") or hardness_face.networks(run)[0]["name"], method="tsne")
    else:
        focus.update(step=ref_a.get("step"))
    where = ref_b["run"] + (f" network {ref_b['network']}" if ref_b.get("network") else "")
    note = "" if same else f"{ref_b['layer']} is a layer of run B ({where}): pick that run in Layers to see it"
    if same and ref_a.get("step") != ref_b.get("step") and ref_b.get("step") is not None:
        note = f"Layers shows step {ref_a.get('step')}; move its step slider to {ref_b['step']} for the other side"
    return focus, note


def pair_title(ref_a: dict, ref_b: dict) -> str:
    def one(ref):
        step = "" if ref.get("step") is None else f" @ step {ref['step']}"
        return f"{ref['layer']}{step}"

    return f"{one(ref_a)} → {one(ref_b)}" + ("" if ref_a["run"] == ref_b["run"] else " (run B)")


def movers_between(config: AppConfig, ref_a: dict, ref_b: dict, k: int) -> dict:
    """The movers of a pair (the study computes them), ranked, with the labels of A's sample."""
    from models.studies import compare

    index, kept = compare.movers_between(config.store, ref_a, ref_b, int(k))
    labels = None
    try:
        labels = sample_labels(config, ref_a["run"], np.asarray(index))
    except Exception:
        labels = None
    return ranked({"from": ref_a, "to": ref_b, "k": int(k), "index": index, "kept": kept, "labels": labels})


def sample_labels(config: AppConfig, run_id: str, index: np.ndarray) -> np.ndarray | None:
    """Labels of the dataset samples ``index`` as the source run recorded them."""
    run = state.run(config, run_id)
    if run.kind == capture_face.KIND:
        sample = capture_face.sample(run)
    else:
        sample = state.arrays(run, "sample")
    where = {int(i): int(l) for i, l in zip(np.asarray(sample["index"]), np.asarray(sample["labels"]))}
    return np.array([where.get(int(i), -1) for i in index])


# -- the samples behind the movers -----------------------------------------------------------------
def source_split(run: Run) -> str:
    """The dataset split a source run's samples index: a capture's own split, a hardness study's test split."""
    return capture_face.split(run) if run.kind == capture_face.KIND else str(run.manifest.get("sample_split", "test"))


def selection_space(config: AppConfig, run_id: str | None) -> str | None:
    """The shared selection's space of a source run (``dataset:split``), None when the run is gone."""
    from ...selection import space

    try:
        run = state.run(config, run_id)
    except Exception:
        return None
    return space(run.manifest.get("dataset"), source_split(run))


def mover_images(config: AppConfig, run_id: str, index: Sequence[int]) -> tuple[list, list[str], str] | None:
    """(images or Nones, class names, dataset name) of dataset samples ``index`` of a source run's split."""
    try:
        run = state.run(config, run_id)
        ds = state.dataset(config, run.manifest.get("dataset"), source_split(run))
    except Exception:
        return None
    images = [None if ds.images is None or not 0 <= int(i) < len(ds.images) else ds.images[int(i)] for i in index]
    return images, list(ds.class_names), f"{ds.name}:{source_split(run)}"

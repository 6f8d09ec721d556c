"""The Your model tab's callbacks: files, the layer tree (a job: it loads the model), capture (a job)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, no_update

from models.studies import capture as face

from ... import ids, state
from ...config import AppConfig
from ...jobs import Done, job
from . import data

FORM = [
    State("model-layers", "value"),
    State("model-pooling", "value"),
    State("model-sample", "value"),
    State("model-per-class", "value"),
    State("model-split", "value"),
    State("model-float16", "value"),
    State("model-input-shape", "value"),
    State("model-channels", "value"),
    State("model-resize", "value"),
    State("model-normalisation", "value"),
    State("model-mean", "value"),
    State("model-std", "value"),
    State("model-pooling-sequences", "value"),
    State("model-pooling-layers", "value"),
]


def capture_splits(config: AppConfig, dataset: str | None) -> list[str]:
    """The splits of ``dataset`` a capture can run over: those present (never an empty list)."""
    present = [s for s in state.splits_of(config, dataset) if s in face.SPLITS]
    return present or ["train"]


def _alert(message: str, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="p-2 mb-0 small")


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(
        Output("model-file", "options"),
        Output("model-file", "value"),
        Input("model-refresh", "n_clicks"),
        Input(ids.TABS, "active_tab"),
        State("model-file", "value"),
        State(ids.MODEL_KEPT, "data"),
    )
    def files(_n, _tab, current, kept):
        """The models folder's files; none is picked for the person (a pick starts the layer search),
        except the one this browser tab had picked before a reload."""
        options = data.model_options(config)
        values = [o["value"] for o in options]
        if current in values:
            return options, no_update
        return options, kept if kept in values else None

    @app.callback(
        Output("model-split", "options"),
        Output("model-split", "value"),
        Input(ids.DATASET_PICKER, "value"),
        State("model-split", "value"),
    )
    def splits(dataset, current):
        """Only the splits the dataset has (MNIST with only its test files: test)."""
        present = capture_splits(config, dataset)
        return [{"label": s, "value": s} for s in present], current if current in present else present[0]

    @app.callback(
        Output("model-request", "data"),
        Output(ids.MODEL_KEPT, "data"),
        Input("model-file", "value"),
        Input("model-inspect", "n_clicks"),
        State("model-request", "data"),
        State(ids.MODEL_KEPT, "data"),
        prevent_initial_call=True,
    )
    def request(model_file, _n, n, kept):
        """The layer search starts when the person asks: Find layers, or a model picked here. Never on a
        page load or a dataset change; the model restored after a reload (``model-kept``) waits for Find layers."""
        if not model_file:
            return no_update, no_update
        if ctx.triggered_id == "model-file" and model_file == kept:
            return no_update, no_update
        return (n or 0) + 1, model_file

    @job(
        app,
        trigger=Input("model-request", "data"),
        buttons=["model-inspect", "model-capture"],
        outputs=[Output("model-tree", "data"), Output("model-message", "children")],
        states=[State(ids.DATASET_PICKER, "value"), State("model-file", "value"), *FORM],
        title=lambda dataset, model_file, *_: f"find the layers of {model_file} on {dataset}",
        failed=lambda message: (None, _alert(message)),
        panel_errors=False,
    )
    def find_layers(progress, dataset, model_file, *form):
        dataset = dataset or config.default_dataset
        form = list(form[1:])  # pooling, sample, per class, split, …
        form[3] = capture_splits(config, dataset)[0]  # a forward pass on a few samples: any split present will do
        cfg = data.capture_config(dataset, model_file, None, *form)
        tree = data.inspect(config, dataset or config.default_dataset, cfg)
        return Done(message=f"{model_file}: {len(tree['layers'])} layers", values=(tree, ""))

    @app.callback(
        Output("model-layers", "options"),
        Output("model-layers", "value"),
        Output("model-plan", "children"),
        Output("model-input-shape", "placeholder"),
        Input("model-tree", "data"),
    )
    def show_tree(tree):
        if not tree:
            return [], [], "", "from the file"
        shape = " ".join(map(str, tree["input"]["shape"]))
        return data.tree_options(tree), list(tree["default"]), data.plan_text(tree), shape

    @job(
        app,
        trigger="model-capture",
        buttons=["model-inspect"],
        outputs=[
            Output("model-message", "children", allow_duplicate=True),
            Output(ids.FOCUS, "data", allow_duplicate=True),
        ],
        states=[State(ids.DATASET_PICKER, "value"), State("model-file", "value"), *FORM, State("model-tree", "data")],
        title=lambda dataset, model_file, *_: f"capture {model_file} on {dataset}",
        failed=lambda message: (_alert(message), no_update),
    )
    def capture(progress, dataset, model_file, *form):
        *form, tree = form
        detected = tree["input"]["shape"] if tree and tree.get("model") == model_file else None
        cfg = data.capture_config(dataset or config.default_dataset, model_file, *form, detected=detected)
        if config.model_dir is not None:
            cfg = cfg.replace(model_dir=str(config.model_dir))
        run = face.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        lines = list(face.summary(run))
        message = f"captured {run.id}: {lines[0]}"
        return Done(
            run=run,
            message=message,
            values=(
                _alert(message + " — opening Layers: press Project there", "success"),
                {"tab": "layers", "run": run.id},
            ),
        )

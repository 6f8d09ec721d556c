"""The Your model tab's callbacks: files, the layer tree (a job: it loads the model), capture (a job)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, no_update

from models.studies import capture as face

from ...config import AppConfig
from ...jobs import Done, job
from . import data

FORM = [State("model-layers", "value"), State("model-pooling", "value"), State("model-sample", "value"),
        State("model-per-class", "value"), State("model-split", "value"), State("model-float16", "value"),
        State("model-input-shape", "value"), State("model-channels", "value"), State("model-resize", "value"),
        State("model-normalisation", "value"), State("model-mean", "value"), State("model-std", "value"),
        State("model-pooling-sequences", "value"), State("model-pooling-layers", "value")]


def _alert(message: str, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="p-2 mb-0 small")


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("model-file", "options"), Output("model-file", "value"),
                  Input("model-refresh", "n_clicks"), Input("tabs", "active_tab"), State("model-file", "value"))
    def files(_n, _tab, current):
        options = data.model_options(config)
        values = [o["value"] for o in options]
        # the same file again would re-run the layer search: leave a valid value as it is
        return options, no_update if current in values else (values[0] if values else None)

    @app.callback(Output("model-request", "data"), Input("model-file", "value"), Input("model-inspect", "n_clicks"),
                  Input("dataset-picker", "value"), State("model-request", "data"), prevent_initial_call=True)
    def request(model_file, _n, _dataset, n):
        return (n or 0) + 1 if model_file else no_update

    @job(app, trigger=Input("model-request", "data"), buttons=["model-inspect", "model-capture"],
         outputs=[Output("model-tree", "data"), Output("model-message", "children")],
         states=[State("dataset-picker", "value"), State("model-file", "value"), *FORM],
         title=lambda dataset, model_file, *_: f"find the layers of {model_file} on {dataset}",
         failed=lambda message: (None, _alert(message)))
    def find_layers(progress, dataset, model_file, *form):
        cfg = data.capture_config(dataset or config.default_dataset, model_file, None, *form[1:])
        tree = data.inspect(config, dataset or config.default_dataset, cfg)
        return Done(message=f"{model_file}: {len(tree['layers'])} layers", values=(tree, ""))

    @app.callback(Output("model-layers", "options"), Output("model-layers", "value"), Output("model-plan", "children"),
                  Output("model-input-shape", "placeholder"), Input("model-tree", "data"))
    def show_tree(tree):
        if not tree:
            return [], [], "", "from the file"
        shape = " ".join(map(str, tree["input"]["shape"]))
        return data.tree_options(tree), list(tree["default"]), data.plan_text(tree), shape

    @job(app, trigger="model-capture", buttons=["model-inspect"],
         outputs=[Output("model-message", "children", allow_duplicate=True),
                  Output("focus", "data", allow_duplicate=True)],
         states=[State("dataset-picker", "value"), State("model-file", "value"), *FORM, State("model-tree", "data")],
         title=lambda dataset, model_file, *_: f"capture {model_file} on {dataset}",
         failed=lambda message: (_alert(message), no_update))
    def capture(progress, dataset, model_file, *form):
        *form, tree = form
        detected = tree["input"]["shape"] if tree and tree.get("model") == model_file else None
        cfg = data.capture_config(dataset or config.default_dataset, model_file, *form, detected=detected)
        if config.model_dir is not None:
            cfg = cfg.replace(model_dir=str(config.model_dir))
        run = face.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        lines = list(face.summary(run))
        message = f"captured {run.id}: {lines[0]}"
        return Done(run=run, message=message,
                    values=(_alert(message + " — opening Layers: press Project there", "success"),
                            {"tab": "layers", "run": run.id}))

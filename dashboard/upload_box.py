"""The Data tab's upload box: an arrays file or a model file, size-capped, validated with the ordinary
loaders (:mod:`models.datasets.upload`) in a job, then written into the data folder; the dataset picker
(and the "Your model" tab's list, read each time that tab opens) then offer it."""

from __future__ import annotations

import base64
import binascii

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from models.datasets import upload as uploads
from models.datasets.arrays import ARRAY_SUFFIXES
from models.datasets.limits import size_text

from . import ids, state
from .config import AppConfig
from .jobs import Done, job

#: the output of the one callback whose requests carry a whole file (the app lets only it send big bodies)
BIG_OUTPUT = "data-upload-staged.data"


def box(config: AppConfig) -> html.Div:
    accept = ",".join(ARRAY_SUFFIXES + uploads.MODEL_SUFFIXES)
    return html.Div(
        [
            html.Div("Bring your own file", className="panel-title mb-1"),
            dcc.Upload(
                id="data-upload",
                accept=accept,
                multiple=False,
                className="data-upload small",
                children=html.Div(
                    [
                        html.B("Drop a file here or click"),
                        html.Br(),
                        f"arrays ({', '.join(ARRAY_SUFFIXES)}) or a model ({', '.join(uploads.MODEL_SUFFIXES)}) "
                        f"· at most {size_text(uploads.MAX_UPLOAD_BYTES)}",
                    ]
                ),
            ),
            html.Div(
                "Checked with the same loaders as files you copy in (pickles refused) before anything is "
                f"written: arrays to {(config.data_dir / uploads.UPLOAD_FOLDER).resolve()}, models to the "
                "Your model tab's folder.",
                className="small text-muted mt-1",
            ),
            html.Div(id="data-upload-status", className="small mt-1"),
            dcc.Store(id="data-upload-staged", data=None),
            dcc.Store(id="data-upload-go", data=0),
        ]
    )


def decode(contents: str | None) -> bytes:
    """The bytes of a ``dcc.Upload`` ``contents`` data URL."""
    if contents is not None and not isinstance(contents, str):
        raise uploads.UploadError(
            f"the upload arrived as {type(contents).__name__}, not a file's data; choose the file again"
        )
    if not contents or "," not in contents:
        raise uploads.UploadError("no file arrived; choose the file again")
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=False)
    except (binascii.Error, ValueError) as exc:
        raise uploads.UploadError(f"the upload arrived damaged ({exc}); try again") from None


def register(app: dash.Dash, config: AppConfig) -> None:
    """Two steps: a quick callback checks size and name and stages the bytes in a hidden folder of the
    data folder (so a job's arguments stay small); the job loads the staged file with the ordinary
    loaders (a model imports torch, so this runs as a job) and moves it into place."""
    from models.capture.formats import model_dir_of

    def refused(message: str) -> dbc.Alert:
        return dbc.Alert(
            f"Not added: {message}. Nothing was written.", color="danger", className="p-2 mb-0", id="data-upload-error"
        )

    @app.callback(
        Output("data-upload-staged", "data"),
        Output("data-upload-go", "data"),
        Output("data-upload-status", "children"),
        Input("data-upload", "contents"),
        State("data-upload", "filename"),
        State("data-upload-go", "data"),
        prevent_initial_call=True,
    )
    def staged(contents, filename, go):
        try:  # what the page sends is checked before anything is staged
            if filename is not None and not isinstance(filename, str):
                raise uploads.UploadError(f"the file name arrived as {type(filename).__name__}; choose the file again")
            if go is not None and (not isinstance(go, int) or isinstance(go, bool) or go < 0):
                raise uploads.UploadError("the page's upload counter is damaged; reload the page")
            path = uploads.stage(filename, decode(contents), data_dir=config.data_dir)
        except uploads.UploadError as exc:
            return dash.no_update, dash.no_update, refused(str(exc))
        relative = path.relative_to(config.data_dir.resolve()).as_posix()
        return relative, (go or 0) + 1, html.Span(f"checking {path.name}…", className="text-muted")

    @job(
        app,
        trigger=Input("data-upload-go", "data"),
        states=[State("data-upload-staged", "data")],
        outputs=[
            Output(ids.DATASET_PICKER, "options", allow_duplicate=True),
            Output("data-upload-status", "children", allow_duplicate=True),
        ],
        title=lambda relative: f"check upload {str(relative).rsplit('/', 1)[-1]}",
        failed=lambda message: (dash.no_update, refused(message)),
    )
    def install(progress, relative):
        got = uploads.install(
            uploads.staged_path(config.data_dir, relative),
            data_dir=config.data_dir,
            model_dir=model_dir_of(config.data_dir, config.model_dir),
        )
        where = "pick it in the dataset menu" if got.kind == "arrays" else "open the Your model tab to inspect it"
        done = dbc.Alert(
            [html.B(got.name), f" added: {got.summary} · {where}"],
            color="success",
            className="p-2 mb-0",
            id="data-upload-done",
        )
        return Done(message=f"added {got.name}", values=(state.dataset_options(config), done))

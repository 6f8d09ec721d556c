"""The one tooltip card every view shows for a sample (or a lattice node, or a grid cell).

Views differ only in the lines they write under the image; the card's shape, the thumbnail
cache and the class names live here once.
"""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np
from dash import html

from . import images

TEXT_CHARS = 240  # of a sample's text shown on hover


def sample_card(
    image: np.ndarray | None,
    lines: Sequence[str],
    *,
    key: Hashable | None = None,
    size: int = 96,
    extra: Sequence = (),
    image_class: str = "",
    text: str | None = None,
) -> html.Div:
    """Image (thumbnail made once per ``key``; uncached when ``key`` is None), then one line each.

    ``text`` (a token dataset's sample text) shows where an image would, cut to :data:`TEXT_CHARS`;
    ``extra`` holds further components (a strip of member images, say) placed after the lines;
    ``image_class`` adds a class to the image (a view's own styling).
    """
    children = []
    if text is not None:
        cut = text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"
        children.append(
            html.Div(
                cut,
                className="tooltip-text",
                style={"minWidth": "220px", "maxWidth": "300px", "whiteSpace": "normal", "fontStyle": "italic"},
            )
        )
    if image is not None:
        src = images.thumbnail(key, image, size=size) if key is not None else images.png_data_uri(image, size=size)
        children.append(html.Img(src=src, className=f"tooltip-img {image_class}".strip()))
    children += [html.Div(line, className="tooltip-line") for line in lines if line]
    children += list(extra)
    return html.Div(children, className="tooltip-card")


def label_lines(class_names: Sequence[str], label: int, prediction: int | None = None) -> list[str]:
    """ "label 3" and, when a prediction is known, "prediction 5 ✗"."""
    lines = [f"label {class_names[int(label)]}"]
    if prediction is not None:
        mark = "✓" if int(prediction) == int(label) else "✗"
        lines.append(f"prediction {class_names[int(prediction)]} {mark}")
    return lines


def point_position(point: dict) -> int:
    """The position of a hovered/clicked point within its trace."""
    return int(point.get("pointIndex", point.get("pointNumber", 0)))

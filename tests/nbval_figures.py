"""Figures under test: nbval compares text outputs only, so a broken map, colour scale or overlay
would change a chapter's figure and no test would notice. This plugin extends nbval's comparison
of each re-executed cell with its stored outputs to the PNG images: the same number of figures,
the same size, and the same pixels up to a tolerance for rendering noise.

Identical code and data draw identical pixels (PNG is lossless); what may differ is anti-aliasing
along a few edges when a float moves in its last digits. A changed colour map, a missing overlay
or a different image changes a large share of the pixels. The tolerance (below) sits between.

A failing figure names the chapter, the cell and the figure, and writes the new image, the stored
one and their difference to ``$XAI_FIGURE_DIFFS`` (default: ``<tmp>/xai-figure-diffs``) so a
person can look at them. Cells tagged ``nbval-ignore-output`` are not compared at all (nbval's
own tag), which is meant for outputs that show measured times.
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

#: A pixel "changed" when one of its channels moved by more than this (of 255).
PIXEL_TOLERANCE = 24
#: A figure differs when more than this fraction of its pixels changed.
CHANGED_FRACTION = 0.002


@dataclass
class FigureDifference:
    index: int
    reason: str
    new: Optional[np.ndarray] = None
    stored: Optional[np.ndarray] = None


def _pngs(outputs: Sequence[dict]) -> list[str]:
    return [output["data"]["image/png"] for output in outputs
            if isinstance(output.get("data"), dict) and "image/png" in output["data"]]


def _decode(payload) -> np.ndarray:
    text = "".join(payload) if isinstance(payload, list) else payload
    with Image.open(io.BytesIO(base64.b64decode(text))) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def compare_figures(new_outputs: Sequence[dict], stored_outputs: Sequence[dict],
                    pixel_tolerance: int = PIXEL_TOLERANCE,
                    changed_fraction: float = CHANGED_FRACTION) -> list[FigureDifference]:
    """The PNG figures of a re-executed cell against the stored ones.

    Returns:
        One :class:`FigureDifference` per figure that differs (empty when all match).
    """
    new, stored = _pngs(new_outputs), _pngs(stored_outputs)
    if len(new) != len(stored):
        return [FigureDifference(0, f"the cell drew {len(new)} figure(s), the stored outputs hold {len(stored)}")]
    differences = []
    for index, (new_png, stored_png) in enumerate(zip(new, stored)):
        a, b = _decode(new_png), _decode(stored_png)
        if a.shape != b.shape:
            differences.append(FigureDifference(
                index, f"size {a.shape[1]}x{a.shape[0]} px, stored {b.shape[1]}x{b.shape[0]} px", a, b))
            continue
        changed = (np.abs(a - b).max(axis=-1) > pixel_tolerance).mean()
        if changed > changed_fraction:
            differences.append(FigureDifference(
                index, f"{changed:.1%} of its pixels changed by more than {pixel_tolerance}/255 "
                       f"(tolerance {changed_fraction:.1%})", a, b))
    return differences


def save_differences(label: str, differences: Sequence[FigureDifference]) -> Optional[Path]:
    """Write new, stored and difference images of each differing figure; returns the folder."""
    folder = Path(os.environ.get("XAI_FIGURE_DIFFS") or Path(tempfile.gettempdir()) / "xai-figure-diffs")
    written = False
    for difference in differences:
        if difference.new is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{label}-figure{difference.index}"
        Image.fromarray(difference.new.astype(np.uint8)).save(folder / f"{stem}-new.png")
        Image.fromarray(difference.stored.astype(np.uint8)).save(folder / f"{stem}-stored.png")
        if difference.new.shape == difference.stored.shape:
            delta = np.abs(difference.new - difference.stored).max(axis=-1).clip(0, 255).astype(np.uint8)
            Image.fromarray(255 - delta).save(folder / f"{stem}-difference.png")
        written = True
    return folder if written else None


def install() -> None:
    """Extend nbval's output comparison with :func:`compare_figures` (idempotent)."""
    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell.compare_outputs, "compares_figures", False):
        return
    compare_text = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        text_ok = compare_text(self, test, ref, skip_compare)
        differences = compare_figures(test, ref)
        if not differences:
            return text_ok
        chapter = Path(str(self.fspath)).stem
        folder = save_differences(f"{chapter}-cell{self.cell_num}", differences)
        lines = [f"{chapter}, cell {self.cell_num}: figure {d.index} differs from the stored one: {d.reason}"
                 for d in differences]
        if folder is not None:
            lines.append(f"new, stored and difference images: {folder}")
        lines.append("If the change is intended, store the new outputs: make notebooks")
        self.comparison_traceback = getattr(self, "comparison_traceback", []) + lines
        return False

    compare_outputs.compares_figures = True
    IPyNbCell.compare_outputs = compare_outputs


def pytest_configure(config) -> None:
    """Loaded as a plugin (``-p nbval_figures``), the comparison is installed for that run."""
    install()

"""Figures under test: the comparison sees a changed picture and forgives rendering noise, and a
notebook whose figure changed fails `pytest --nbval` with the chapter, cell and figure named."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nbval_figures import compare_figures, save_differences  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _figure_output(cmap="viridis", size=(3, 2), noise_pixels=0):
    figure, axis = plt.subplots(figsize=size, dpi=60)
    axis.imshow(np.linspace(0, 1, 400).reshape(20, 20), cmap=cmap)
    axis.set_title("a heat map")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    if noise_pixels:
        from PIL import Image

        pixels = np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        rng = np.random.default_rng(0)
        rows, columns = rng.integers(0, pixels.shape[0], noise_pixels), rng.integers(0, pixels.shape[1], noise_pixels)
        pixels[rows, columns] = 255 - pixels[rows, columns]
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="png")
    payload = base64.b64encode(buffer.getvalue()).decode()
    return {"output_type": "display_data", "data": {"image/png": payload, "text/plain": "<Figure>"}, "metadata": {}}


def test_the_same_figure_passes_and_a_few_anti_aliased_pixels_are_forgiven():
    stored = [_figure_output()]
    assert compare_figures([_figure_output()], stored) == []
    assert compare_figures([_figure_output(noise_pixels=5)], stored) == []


def test_a_changed_colour_map_size_or_count_is_seen(tmp_path, monkeypatch):
    stored = [_figure_output()]
    inverted = compare_figures([_figure_output(cmap="viridis_r")], stored)
    assert len(inverted) == 1 and "of its pixels changed" in inverted[0].reason
    resized = compare_figures([_figure_output(size=(4, 2))], stored)
    assert "size" in resized[0].reason
    assert "drew 0 figure(s)" in compare_figures([], stored)[0].reason
    monkeypatch.setenv("XAI_FIGURE_DIFFS", str(tmp_path))
    folder = save_differences("chapter-cell3", inverted)
    assert sorted(p.name for p in folder.iterdir()) == [
        "chapter-cell3-figure0-difference.png", "chapter-cell3-figure0-new.png", "chapter-cell3-figure0-stored.png"]


def _notebook(path: Path, cmap: str) -> None:
    code = ("import matplotlib.pyplot as plt\nimport numpy as np\n"
            f"plt.imshow(np.linspace(0, 1, 400).reshape(20, 20), cmap='{cmap}')\nplt.show()")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def _execute(path: Path) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    nbformat.write(notebook, path)


def test_a_broken_figure_fails_nbval_and_the_restored_one_passes(tmp_path, monkeypatch):
    """The check the book relies on, end to end: store a chapter-like notebook's figure, break the
    figure in the code (inverted colour map, stored outputs unchanged), run pytest --nbval."""
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = tmp_path / "99_figure.ipynb"
    _notebook(notebook, "viridis")
    _execute(notebook)

    def nbval() -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))
        env.pop("PYTEST_ADDOPTS", None)  # the outer run's options (a JUnit report path) are not this run's
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval_figures", "--rootdir",
             str(tmp_path), "--nbval", "--nbval-current-env", str(notebook)],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)

    assert nbval().returncode == 0
    stored = nbformat.read(notebook, as_version=4)
    broken = nbformat.read(notebook, as_version=4)
    broken.cells[0].source = broken.cells[0].source.replace("'viridis'", "'viridis_r'")
    nbformat.write(broken, notebook)
    result = nbval()
    assert result.returncode == 1, result.stdout[-3000:]
    assert "99_figure, cell 0: figure 0 differs from the stored one" in result.stdout
    nbformat.write(stored, notebook)
    assert nbval().returncode == 0

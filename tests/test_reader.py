"""A reader's path, proved offline: build the package, install it (not editable) into a fresh
environment, serve the offline mirror over HTTP as a classroom mirror, and run chapters from a
folder outside the checkout, with an empty home and cache and no data-root variable, through their
bootstrap cell. Their printed outputs and figures must equal the stored ones: for these two
chapters this test is the regression test (``make test`` leaves them out of its nbval run).

The fresh environment reuses the big stack (torch, captum, shap, jupyter ...) of the book's own
environment through a ``.pth`` file of path lines: Python reads such a line as one more folder on
``sys.path`` but does not process the ``.pth`` files inside it, so the checkout's editable
``xaihelpers`` stays invisible and only the installed wheel answers ``import xaihelpers``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest

from package_source import copy_source  # tests/ is on the path (conftest.py)
from xaihelpers import data

ROOT = Path(__file__).resolve().parents[1]
#: The pollen CNN and the ImageNet model in one chapter, and a CIFAR chapter.
CHAPTERS = ("05_guided_backprop", "11_cifar_callbacks")

RUNNER = textwrap.dedent('''
    """Execute one notebook here, as a reader would, and compare its printed outputs with the
    stored ones (the bootstrap cell aside: it reports the fetch)."""
    import json, re, sys
    import nbformat
    from nbclient import NotebookClient

    path, masks = sys.argv[1], json.loads(sys.argv[2])
    stored = nbformat.read(path, as_version=4)
    executed = nbformat.read(path, as_version=4)
    NotebookClient(executed, timeout=900, kernel_name="python3", shutdown_kernel="immediate").execute()

    def text(cell):
        out = "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                      for o in cell.outputs if o.output_type in ("stream", "execute_result") and o.get("name") != "stderr")
        for pattern, replacement in masks:
            out = re.sub(pattern, replacement, out)
        return out

    from nbval_figures import compare_figures  # the figure comparison nbval uses in make test

    code = [(a, b) for a, b in zip(stored.cells, executed.cells) if a.cell_type == "code"]
    import xaihelpers, xaihelpers.data as d, xaihelpers.pollen as p, xaihelpers.zoo as z
    print("xaihelpers from", xaihelpers.__file__)
    print("checkout:", d.REPO_ROOT, "| checkpoint and split shipped:", z.get("pollen_cnn").checkpoint.is_file(),
          p.SPLIT_FILE.is_file(), "| data root:", d.data_root())
    differ = 0
    for index, (old, new) in enumerate(code[1:], 1):
        if "NBVAL_IGNORE_OUTPUT" in old.source:
            continue
        if text(old) != text(new):
            differ += 1
            print(f"code cell {index} differs:\\n--- stored\\n{text(old)}\\n--- reader\\n{text(new)}")
        for figure in compare_figures(new.outputs, old.outputs):
            differ += 1
            print(f"code cell {index}, figure {figure.index}: {figure.reason}")
    print("bootstrap cell said:", text(code[0][1]).strip() or "(nothing)")
    print("compared:", len(code) - 1, "cells")
    sys.exit(1 if differ else 0)
''')


def _masks() -> list[tuple[str, str]]:
    lines = (ROOT / "tests" / "nbval_sanitize.cfg").read_text().splitlines()
    regexes = [line.split(":", 1)[1].strip() for line in lines if line.startswith("regex:")]
    replaces = [line.split(":", 1)[1].strip() for line in lines if line.startswith("replace:")]
    return list(zip(regexes, replaces))


@pytest.fixture(scope="module")
def mirror_address():
    try:
        root = data.data_root()
        for name in ("pollen", "imagenet_samples", "cifar10"):
            data.dataset_dir(name, root)
    except (data.DataRootError, data.DatasetNotFoundError) as error:
        pytest.skip(f"needs the offline mirror as the data root, to serve it: {error}")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """A fresh environment with the built wheel installed, and an empty home outside the checkout."""
    work = tmp_path_factory.mktemp("reader")
    # Built from a copy: a build in place would leave build/ and egg-info in the checkout.
    source, wheels = copy_source(work / "source"), work / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(source)], check=True, cwd=work)
    wheel = next(wheels.glob("xaihelpers-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "book_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True)
    home, outside = work / "home", work / "somewhere-else"
    home.mkdir()
    outside.mkdir()
    (outside / "run_chapter.py").write_text(RUNNER)
    shutil.copyfile(ROOT / "tests" / "nbval_figures.py", outside / "nbval_figures.py")
    return python, home, outside


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_reader_runs_the_chapter_outside_the_checkout_and_sees_the_books_numbers(reader, mirror_address, chapter):
    python, home, outside = reader
    shutil.copyfile(ROOT / "notebooks" / f"{chapter}.ipynb", outside / f"{chapter}.ipynb")
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XAI_DATA_MIRROR": mirror_address, "LANG": "C.UTF-8"}
    result = subprocess.run([str(python), "run_chapter.py", f"{chapter}.ipynb", json.dumps(_masks())],
                            capture_output=True, text=True, cwd=outside, env=env, timeout=1200)
    assert result.returncode == 0, f"{chapter} outside the checkout:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    origin = result.stdout.split("xaihelpers from", 1)[1].splitlines()[0]
    assert "site-packages" in origin and str(ROOT) not in origin  # the wheel, not the checkout
    data_root = home / ".cache" / "xaihelpers" / "data"
    assert f"checkout: None | checkpoint and split shipped: True True | data root: {data_root}" in result.stdout
    assert re.search(r"compared: \d+ cells", result.stdout)

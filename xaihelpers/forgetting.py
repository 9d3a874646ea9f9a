"""What continual learners forget, seen in their Grad-CAM heat maps: the case study's measurements.

After every task of a run (:mod:`xaihelpers.continual`), Grad-CAM of each learned class at a
middle and the last convolutional layer, measured by :func:`xaihelpers.heatmaps.describe`
(lacunarity after Juneau et al. 2015, colour groups), next to the class's accuracy
(:func:`heatmap_study`, what chapter 14 tabulates).

:func:`extract` is the study's own extraction (its ``gradcam_extractor.py`` and
``lacunarity.py``): the heat map of every image of a split at every sublayer of layers 3 and 5 of
every trained learner, and one table per class with a row per image and sublayer. From the
command line::

    python -m xaihelpers.forgetting extract --out results/continual_learning/extraction
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from xaihelpers import cifar, continual, gradcam, heatmaps, inference, repro, storage, tables, zoo
from xaihelpers.continual import MultiHeadCNN, Task, evaluation_tasks, first_per_class

#: Grad-CAM depths the study compares: a middle layer (16x16) and the last conv layer (8x8).
STUDY_LAYERS = ("features.conv3", "features.conv5")


def heatmap_study(runs: dict[str, list[MultiHeadCNN]], metas: dict[str, dict], tasks: Sequence[Task],
                  images_per_class: int = 20, layers: Sequence[str] = STUDY_LAYERS,
                  binarize: Optional[float] = None):
    """Grad-CAM of every learned class after every task, measured: the case study's table.

    For each strategy, each checkpoint (after task ``i``) and each class of the tasks learned so
    far, Grad-CAM of the class's first ``images_per_class`` test images (target: their true class
    on their task's head) at each layer, upsampled to 32x32 and scaled to ``[0, 1]``; then
    :func:`xaihelpers.heatmaps.describe` (lacunarity, colour groups) averaged over the images, next
    to the class's test accuracy at that checkpoint (from the training run's evaluation).

    Args:
        runs: Strategy -> the networks after each task.
        metas: Strategy -> the run's metadata (accuracies per class and checkpoint).
        tasks: The task sequence.
        images_per_class: Test images of each class whose maps are measured.
        layers: The layers whose Grad-CAM is measured.
        binarize: Measure the binary maps ``map > binarize`` (the classic binary lacunarity)
            instead of the grey levels; an image whose binary map is empty has no lacunarity and
            is left out of its class's mean.

    Returns:
        A ``pandas.DataFrame``, one row per (strategy, after_task, class, layer).
    """
    rows = []
    for strategy, models in runs.items():
        meta = metas[strategy]
        k = meta["classes_per_task"]
        for after, model in enumerate(models):
            for task in tasks[:after + 1]:
                images, labels = first_per_class(task, images_per_class)
                maps = gradcam.grad_cam_layers(model, list(layers), images, task.index * k + labels)
                for layer, layer_maps in maps.items():
                    if binarize is not None:
                        layer_maps = (layer_maps > binarize).float()
                    measures = heatmaps.describe(layer_maps)
                    for local, name in enumerate(task.classes):
                        mine = (labels == local).cpu().numpy()
                        rows.append({"strategy": strategy, "after_task": after, "task": task.index, "class": name,
                                     "layer": layer, "accuracy": meta["class_accuracy"][after][task.index * k + local],
                                     "accuracy_when_learned": meta["class_accuracy"][task.index][task.index * k + local],
                                     **measures[mine].mean().to_dict()})
    return pd.DataFrame(rows)


#: The learners the study extracted from, by strategy (the zoo's ``continual_<strategy>``).
LEARNERS = ("baseline", "ewc", "replay", "generative")
#: The sublayers of layers 3 and 5 the study extracted: each block's convolution (``.0``), batch
#: norm (``.1``) and ReLU (``.2``).
SUBLAYERS = tuple(f"{layer}.{index}" for layer in STUDY_LAYERS for index in range(3))
#: The columns of an extraction table, in order (colour groups as pixel counts, as the study counted).
EXTRACTION_COLUMNS = ("learner", "sublayer", "image", "heatmap", *(f"lacunarity_{size}" for size in heatmaps.BOX_SIZES),
                      *heatmaps.COLOUR_GROUPS, "other")
_SETTINGS_FILE = "extraction.json"
#: The sample that ships with the package: the tables (no heat-map images) of the first 5 test
#: images of every CIFAR-10 class, written by ``python -m xaihelpers.forgetting extract --out
#: xaihelpers/measured/extraction_sample --per-class 5 --no-images``; chapter 14 reads it.
SAMPLE_DIR = Path(__file__).resolve().parent / "measured" / "extraction_sample"
#: The ``last_run.json`` of one full extraction (every test image, heat-map PNGs included), kept
#: so that the chapter can say what the whole run costs.
FULL_RUN_RECORD = SAMPLE_DIR.parent / "extraction_full_run.json"


class ExtractionError(RuntimeError):
    """An extraction folder holds the results of other settings, which would be mixed or replaced."""


def _settings(learners: Sequence[str], split: str, per_class: Optional[int], images: bool,
              checkpoints: dict[str, Path]) -> dict:
    metas = {}
    for learner in learners:
        path = checkpoints[learner]
        metas[learner] = {"checkpoint": path.name, "sha256": storage.file_sha256(path)}
    return {"split": split, "per_class": per_class, "sublayers": list(SUBLAYERS), "heatmap_images": images,
            "learners": metas, "box_sizes": list(heatmaps.BOX_SIZES), "colour_groups": heatmaps.COLOUR_GROUPS}


def _claim_folder(out: Path, settings: dict, force: bool) -> None:
    """Write the settings file, or check that the one there matches (then the run resumes)."""
    path = out / _SETTINGS_FILE
    if path.exists():
        existing = json.loads(path.read_text())
        if existing == json.loads(json.dumps(settings)):
            return
        if not force:
            changed = sorted(key for key in settings if existing.get(key) != json.loads(json.dumps(settings[key])))
            raise ExtractionError(
                f"{out} holds an extraction with other settings ({', '.join(changed)} differ), which this run "
                f"would mix with its own. Choose another --out, or pass --force to replace that extraction.")
        for table in (out / "tables").glob("*.csv"):
            table.unlink()  # asked for with --force; the tables are remade below
    with storage.atomic_write(path) as temporary:
        temporary.write_text(json.dumps(settings, indent=1) + "\n")


def _write_png(array, path: Path) -> None:
    # Not through storage.atomic_write: a class's PNGs count only once its CSV table exists (written
    # last, atomically), and a resumed run writes them again; a temporary file per PNG doubled the time.
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG")


def extract(out: Path | str, *, learners: Sequence[str] = LEARNERS, split: str = "test",
            per_class: Optional[int] = None, classes: Optional[Sequence[str]] = None, images: bool = True,
            checkpoints: Optional[dict[str, Path]] = None, force: bool = False, root: Optional[Path] = None,
            progress: bool = True) -> list[Path]:
    """The study's extraction: for every class of a split, the Grad-CAM heat map of each of its
    images at every sublayer of layers 3 and 5 (:data:`SUBLAYERS`) of each learner after its last
    task, and one table per class with a row per learner, sublayer and image: lacunarity at box
    sizes 2, 4 and 8 and the pixel counts of the colour groups (red, orange, yellow, other) of the
    map rendered in ``jet``, as the study's ``gradcam_extractor.py`` and ``lacunarity.py`` did.

    The target of every map is the image's true class on its task's head (task-incremental
    learning); maps are upsampled to 32 x 32 and scaled to ``[0, 1]`` by their maximum.

    Writes, under ``out``: ``extraction.json`` (the settings and the checkpoints' hashes),
    ``tables/<class>.csv`` and ``.xlsx`` (columns :data:`EXTRACTION_COLUMNS`), with ``images``
    ``heatmaps/<learner>/<sublayer>/<class>/<image>.png``, and ``last_run.json`` (what this call
    did, its wall time and the machine). The run is resumable: a
    class whose CSV table exists is skipped (the CSV is written last, atomically). An ``out`` that
    holds an extraction with other settings is refused unless ``force``.

    Args:
        out: The extraction folder (created if missing).
        learners: Strategies whose trained learners are extracted (:data:`LEARNERS`).
        split: ``test`` (the default: 10,000 CIFAR-10 images) or ``train`` (the study's choice: it
            extracted its stored training images).
        per_class: Only the first this many images of each class (``None``: all).
        classes: Only these classes (``None``: all), by name.
        images: Also write every heat map as a PNG (as the study did); the tables need none.
        checkpoints: Learner -> a checkpoint of your own (default: the shipped ones).
        force: Replace an extraction with other settings in ``out``.
        root: Data root (default: ``$XAI_DATA_ROOT``).
        progress: Show a progress bar over classes and learners.

    Returns:
        The CSV tables written by this call (classes already done are not listed).

    Raises:
        ValueError: For an unknown learner, split or class, or a ``per_class`` below 1.
        ExtractionError: If ``out`` holds an extraction with other settings and not ``force``.
    """
    unknown = sorted(set(learners) - set(LEARNERS))
    if unknown or not learners:
        raise ValueError(f"learners must be some of {', '.join(LEARNERS)}; got {list(learners)}.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1):
        raise ValueError(f"per_class must be a positive whole number or None, got {per_class!r}.")
    out = Path(out)
    checkpoints = {learner: Path((checkpoints or {}).get(learner) or zoo.get(f"continual_{learner}").checkpoint)
                   for learner in learners}
    networks, metas = {}, {}
    for learner in learners:
        runs, metas[learner] = zoo.load(f"continual_{learner}", checkpoints[learner])
        networks[learner] = runs[-1]
    first = metas[learners[0]]
    dataset, per_task = first["dataset"], first["classes_per_task"]
    for learner, meta in metas.items():
        if (meta["dataset"], meta["classes_per_task"]) != (dataset, per_task):
            raise ValueError(f"The learners were trained on different task sequences: {learners[0]} on {dataset} "
                             f"({per_task} classes per task), {learner} on {meta['dataset']} "
                             f"({meta['classes_per_task']}); extract them into separate folders.")
    tasks = evaluation_tasks(cifar.load_cifar(dataset, split, root=root), per_task)
    names = [name for task in tasks for name in task.classes]
    missing = sorted(set(classes or ()) - set(names))
    if missing:
        raise ValueError(f"Unknown class(es) {missing}; the {dataset} classes are: {', '.join(names)}.")
    settings = _settings(learners, split, per_class, images, checkpoints)
    out.mkdir(parents=True, exist_ok=True)
    _claim_folder(out, settings, force)
    todo = [(task, local, name) for task in tasks for local, name in enumerate(task.classes)
            if (classes is None or name in classes) and not (out / "tables" / f"{name}.csv").exists()]
    written, started, maps_written = [], time.perf_counter(), 0
    bar = tqdm(total=len(todo) * len(learners), desc="extraction", unit="class x learner", disable=not progress)
    for task, local, name in todo:
        mine = (task.test_labels == local).nonzero().flatten()[:per_class]
        pictures = inference.to_float(task.test_images[mine])
        rows = []
        for learner in learners:
            bar.set_postfix_str(f"{name}, {learner}")
            target = torch.full((len(mine),), task.index * per_task + local)
            maps = gradcam.grad_cam_layers(networks[learner], list(SUBLAYERS), pictures, target)
            for sublayer in SUBLAYERS:
                layer_maps = maps[sublayer].cpu()
                measures = heatmaps.describe(layer_maps)
                pixels = layer_maps.shape[-2] * layer_maps.shape[-1]
                rendered = heatmaps.render(layer_maps) if images else None  # all maps in one colour-map call
                for image in range(len(mine)):
                    relative = Path("heatmaps") / learner / sublayer / name / f"{image:05d}.png"
                    if images:
                        _write_png(rendered[image], out / relative)
                    row = {"learner": learner, "sublayer": sublayer, "image": image,
                           "heatmap": relative.as_posix() if images else ""}
                    row |= {f"lacunarity_{size}": measures.at[image, f"lacunarity_{size}"] for size in heatmaps.BOX_SIZES}
                    row |= {group: int(round(measures.at[image, group] * pixels)) for group in (*heatmaps.COLOUR_GROUPS, "other")}
                    rows.append(row)
                maps_written += len(mine)
            bar.update()
        table = pd.DataFrame(rows, columns=list(EXTRACTION_COLUMNS))
        folder = out / "tables"
        tables.write_table(table, folder / f"{name}.xlsx")
        tables.write_table(table, folder / f"{name}.csv")  # last: its presence marks the class as done
        written.append(folder / f"{name}.csv")
    bar.close()
    record = {"classes": len(written), "learners": len(learners), "heatmaps": maps_written, "heatmap_images": images,
              "seconds": round(time.perf_counter() - started, 1), "machine": repro.machine(),
              "date": time.strftime("%Y-%m-%d"),
              "sha256": {learner: entry["sha256"] for learner, entry in settings["learners"].items()}}
    with storage.atomic_write(out / "last_run.json") as temporary:
        temporary.write_text(json.dumps(record, indent=1) + "\n")
    return written


def stale_learners(out: Path | str) -> list[str]:
    """The learners whose checkpoint is no longer the one the extraction in ``out`` recorded (by
    SHA-256): an empty list when its tables come from the checkpoints the zoo loads now. ``out`` may
    also be a run record (``last_run.json``, :data:`FULL_RUN_RECORD`), which names the same hashes."""
    out = Path(out)
    if out.is_dir():
        recorded = {learner: entry["sha256"] for learner, entry in
                    json.loads((out / _SETTINGS_FILE).read_text())["learners"].items()}
    else:
        recorded = json.loads(out.read_text()).get("sha256", {})
        if not recorded:
            raise ValueError(f"{out} records no checkpoint hashes; it was written before runs recorded them.")
    return [learner for learner, sha256 in recorded.items()
            if sha256 != storage.file_sha256(zoo.get(f"continual_{learner}").checkpoint)]


def read_extraction(out: Path | str, name: str) -> pd.DataFrame:
    """One class's extraction table (``tables/<name>.csv`` under ``out``).

    Raises:
        FileNotFoundError: If the class has not been extracted there; the message says how to.
    """
    path = Path(out) / "tables" / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"No extraction table for class {name!r} at {path}; run "
                                f"python -m xaihelpers.forgetting extract --out {out}")
    # A map with no mass has no lacunarity (an empty cell); a run without PNGs leaves heatmap empty.
    return pd.read_csv(path, dtype={"heatmap": str}).fillna({"heatmap": ""})


def record_correct(learners: Optional[Sequence[str]] = None, *, root: Optional[Path] = None,
                   record: Path | str = continual.CORRECT_RECORD, progress: bool = True) -> list[str]:
    """Measure :func:`~xaihelpers.continual.correct_per_image` of the model zoo's continual learners
    (all whose checkpoint exists, by default) from their checkpoints and store it in ``record``
    (``python -m xaihelpers.forgetting record``), keeping the other learners' entries and replacing
    a learner's older entry (its checkpoint changed).

    Returns:
        One line per learner: recorded, replaced (and the old key) or already recorded.
    """
    names = list(learners) if learners is not None else [
        name for name in zoo.MODELS if name.startswith("continual_") and zoo.get(name).checkpoint.exists()]
    entries, said, tasks_by = continual.read_correct_record(record), [], {}
    for name in tqdm(names, desc="learners", disable=not progress):
        models, meta = zoo.load(name)
        setting = (meta["dataset"], meta["classes_per_task"])
        if setting not in tasks_by:
            tasks_by[setting] = continual.evaluation_tasks(cifar.load_cifar(meta["dataset"], "test", root=root),
                                                           meta["classes_per_task"])
        key = continual.sequence_key(models, tasks_by[setting])
        if key in entries:
            said.append(f"{name}: already recorded")
            continue
        older = [old for old, entry in entries.items() if entry["name"] == name]
        for old in older:
            del entries[old]
        entries[key] = {"name": name, "machine": repro.machine(),
                        "correct": continual.correct_per_image(models, tasks_by[setting])}
        said.append(f"{name}: {'replaced ' + older[0][:12] if older else 'recorded'}")
    continual.write_correct_record(entries, record)
    return said


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xaihelpers.forgetting",
                                     description="The continual-learning study's heat-map extraction, and the record of the learners' test answers.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("extract", help="heat maps of every image at every sublayer of layers 3 and 5, "
                                                  "and one table per class (resumable)")
    command.add_argument("--out", type=Path, default=None,
                         help="the extraction folder (default: results/continual_learning/extraction)")
    command.add_argument("--split", choices=("test", "train"), default="test",
                         help="which split's images (the study used its stored training images; default: test)")
    command.add_argument("--learners", nargs="+", choices=LEARNERS, default=list(LEARNERS))
    command.add_argument("--per-class", type=int, default=None, help="only the first N images of each class")
    command.add_argument("--classes", nargs="+", default=None, help="only these classes, by name")
    command.add_argument("--no-images", action="store_true", help="write the tables only, no heat-map PNGs")
    command.add_argument("--force", action="store_true", help="replace an extraction with other settings in --out")
    command = commands.add_parser("record", help="which test images every checkpoint of the zoo's continual learners "
                                                 f"gets right, into {continual.CORRECT_RECORD.name}")
    command.add_argument("learners", nargs="*", help="zoo names (default: every continual learner with a checkpoint)")
    command.add_argument("--record", type=Path, default=continual.CORRECT_RECORD)
    args = parser.parse_args(argv)
    if args.command == "record":
        for line in record_correct(args.learners or None, record=args.record):
            print(line)
        print(f"written: {args.record}")
        return 0
    out = args.out or tables.results_dir("continual_learning") / "extraction"
    try:
        written = extract(out, learners=args.learners, split=args.split, per_class=args.per_class,
                          classes=args.classes, images=not args.no_images, force=args.force)
    except (ValueError, ExtractionError, FileNotFoundError) as error:
        parser.exit(2, f"error: {error}\n")
    done = len(list((out / "tables").glob("*.csv")))
    print(f"{len(written)} class tables written, {done} in all, under {out / 'tables'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

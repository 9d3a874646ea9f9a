"""The continual-learning study's extraction (``python -m xaihelpers.forgetting extract``): heat maps
of every image at every sublayer of layers 3 and 5 of every learner, one table per class, resumable,
and never mixed with another run's results. Runs on a data root of links to a few CIFAR-10 test images."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import link_cifar10_test
from xaihelpers import cifar, data, forgetting, gradcam, heatmaps, inference, storage, zoo

PER_CLASS = 2


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    """A data root whose CIFAR-10 test split holds the first 3 images of each class (links)."""
    if not os.environ.get(data.DATA_ROOT_ENV):
        pytest.skip(f"{data.DATA_ROOT_ENV} is not set; these tests read the real data sets")
    if data.dataset_dir("cifar10").name != "cifar10":
        pytest.skip("the data root holds torchvision's pickles, not class folders")
    return link_cifar10_test(tmp_path_factory.mktemp("cifar10_small"), per_class=3)


@pytest.fixture(scope="module")
def extraction(small_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("extraction")
    written = forgetting.extract(out, per_class=PER_CLASS, classes=["airplane", "cat"], root=small_root,
                                 progress=False)
    return out, written


def test_one_table_per_class_with_a_row_per_learner_sublayer_and_image(extraction):
    out, written = extraction
    assert sorted(path.name for path in written) == ["airplane.csv", "cat.csv"]
    assert (out / "tables" / "cat.xlsx").exists()
    table = forgetting.read_extraction(out, "cat")
    assert list(table.columns) == list(forgetting.EXTRACTION_COLUMNS)
    assert len(table) == 4 * 6 * PER_CLASS
    assert set(table["learner"]) == {"baseline", "ewc", "replay", "generative"}
    assert set(table["sublayer"]) == {f"features.conv{block}.{part}" for block in (3, 5) for part in range(3)}
    counts = table[["red", "orange", "yellow", "other"]]
    assert (counts.sum(axis=1) == 32 * 32).all() and counts.dtypes.map(lambda d: d.kind == "i").all()
    with pytest.raises(FileNotFoundError, match="python -m xaihelpers.forgetting extract"):
        forgetting.read_extraction(out, "dog")
    record = json.loads((out / "last_run.json").read_text())
    assert (record["classes"], record["heatmaps"]) == (2, 4 * 6 * PER_CLASS * 2)
    assert len(list((out / "heatmaps").rglob("*.png"))) == 4 * 6 * PER_CLASS * 2


def test_the_shipped_sample_comes_from_the_shipped_learners():
    # Retraining a learner changes its checkpoint; then the sample chapter 14 reads must be remade
    # (the command is in forgetting.SAMPLE_DIR's comment).
    settings = json.loads((forgetting.SAMPLE_DIR / "extraction.json").read_text())
    for learner, recorded in settings["learners"].items():
        assert recorded["sha256"] == storage.file_sha256(zoo.get(f"continual_{learner}").checkpoint), learner
    assert settings["per_class"] == 5 and not settings["heatmap_images"]
    assert len(list((forgetting.SAMPLE_DIR / "tables").glob("*.csv"))) == 10
    assert forgetting.stale_learners(forgetting.SAMPLE_DIR) == []


def test_a_changed_checkpoint_makes_its_learner_stale(extraction, tmp_path):
    out, _ = extraction
    assert forgetting.stale_learners(out) == []
    settings = json.loads((out / "extraction.json").read_text())
    settings["learners"]["ewc"]["sha256"] = "0" * 64  # as if continual_ewc.pt had been retrained since
    (tmp_path / "extraction.json").write_text(json.dumps(settings))
    assert forgetting.stale_learners(tmp_path) == ["ewc"]
    # A run record names the same hashes; one planted hash makes its learner stale there too.
    record = json.loads((out / "last_run.json").read_text())
    assert forgetting.stale_learners(out / "last_run.json") == []
    record["sha256"]["replay"] = "0" * 64
    (tmp_path / "last_run.json").write_text(json.dumps(record))
    assert forgetting.stale_learners(tmp_path / "last_run.json") == ["replay"]
    del record["sha256"]
    (tmp_path / "old_run.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="records no checkpoint hashes"):
        forgetting.stale_learners(tmp_path / "old_run.json")


def test_the_shipped_full_run_record_is_of_the_shipped_learners():
    record = json.loads(forgetting.FULL_RUN_RECORD.read_text())
    assert forgetting.stale_learners(forgetting.FULL_RUN_RECORD) == []
    assert (record["classes"], record["learners"], record["heatmap_images"]) == (10, 4, True)
    assert record["heatmaps"] == 10_000 * 4 * 6  # every test image, every learner, every sublayer


def test_the_table_holds_the_measures_of_the_written_heat_map(extraction, small_root):
    # Recomputed independently: Grad-CAM through captum's LayerGradCam (not the hooks the extraction
    # uses), the gliding-box lacunarity written out box by box, colour groups read from the PNG.
    out, _ = extraction
    table = forgetting.read_extraction(out, "cat")
    runs, meta = zoo.load("continual_ewc")
    test = cifar.load_cifar("cifar10", "test", root=small_root)
    cat = test.classes.index("cat")
    images = inference.to_float(test.images[test.labels == cat][:PER_CLASS])
    for sublayer in ("features.conv3.1", "features.conv5.2"):
        maps = gradcam.grad_cam(runs[-1], sublayer, images, cat)  # cat's head index: task 1, class 1 = 3
        for image in range(PER_CLASS):
            row = table[(table["learner"] == "ewc") & (table["sublayer"] == sublayer) & (table["image"] == image)].iloc[0]
            array = maps[image].numpy().astype(np.float64)
            for size in heatmaps.BOX_SIZES:
                expected = heatmaps.lacunarity_reference(array, size)
                assert np.isclose(row[f"lacunarity_{size}"], expected, rtol=1e-4), (sublayer, image, size)
            with Image.open(out / row["heatmap"]) as picture:
                rgb = np.asarray(picture.convert("RGB"))
            assert rgb.shape == (32, 32, 3)
            # The share of the map at or above 0.85 (red on jet), counted on the values: the PNG's
            # colours are 8-bit, so a pixel within a colour step of the threshold may fall either way.
            near = np.abs(array - 0.85) < 1 / 255
            red = int((array >= 0.85).sum())
            assert red - near.sum() <= row["red"] <= red + near.sum()


def test_a_second_run_resumes_and_other_settings_are_refused(extraction, small_root):
    out, _ = extraction
    cat_table = (out / "tables" / "cat.csv").read_bytes()
    assert forgetting.extract(out, per_class=PER_CLASS, classes=["airplane", "cat"], root=small_root,
                              progress=False) == []
    (out / "tables" / "airplane.csv").unlink()
    again = forgetting.extract(out, per_class=PER_CLASS, classes=["airplane", "cat"], root=small_root, progress=False)
    assert [path.name for path in again] == ["airplane.csv"]
    assert (out / "tables" / "cat.csv").read_bytes() == cat_table
    with pytest.raises(forgetting.ExtractionError, match="per_class differ.*--force"):
        forgetting.extract(out, per_class=1, classes=["cat"], root=small_root, progress=False)
    assert (out / "tables" / "cat.csv").read_bytes() == cat_table  # refused: nothing touched


def test_force_replaces_an_extraction_with_other_settings(small_root, tmp_path):
    forgetting.extract(tmp_path, learners=["baseline"], per_class=1, classes=["cat"], images=False, root=small_root,
                       progress=False)
    replaced = forgetting.extract(tmp_path, learners=["baseline"], per_class=2, classes=["cat"], images=False,
                                  root=small_root, force=True, progress=False)
    assert [path.name for path in replaced] == ["cat.csv"]
    table = forgetting.read_extraction(tmp_path, "cat")
    assert len(table) == 6 * 2 and (table["heatmap"] == "").all() and not (tmp_path / "heatmaps").exists()


def test_bad_arguments_say_what_was_wrong(small_root, tmp_path):
    with pytest.raises(ValueError, match="learners must be some of baseline, ewc, replay, generative"):
        forgetting.extract(tmp_path, learners=["lwf"], root=small_root)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        forgetting.extract(tmp_path, split="validation", root=small_root)
    with pytest.raises(ValueError, match="per_class must be a positive whole number"):
        forgetting.extract(tmp_path, per_class=0, root=small_root)
    with pytest.raises(ValueError, match=r"Unknown class\(es\) \['kitten'\]; the cifar10 classes are: airplane"):
        forgetting.extract(tmp_path, classes=["kitten"], root=small_root, progress=False)


def test_the_command_line(small_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(data.DATA_ROOT_ENV, str(small_root))
    assert forgetting.main(["extract", "--out", str(tmp_path), "--per-class", "1", "--classes", "ship",
                            "--learners", "replay", "--no-images"]) == 0
    assert "1 class tables written, 1 in all" in capsys.readouterr().out
    assert len(forgetting.read_extraction(tmp_path, "ship")) == 6
    with pytest.raises(SystemExit) as stopped:
        forgetting.main(["extract", "--out", str(tmp_path), "--per-class", "2", "--classes", "ship",
                         "--learners", "replay", "--no-images"])
    assert stopped.value.code == 2 and "other settings" in capsys.readouterr().err

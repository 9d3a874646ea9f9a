"""The interactive explorer: its logic, and the page driven by Streamlit's AppTest (no browser)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from xaihelpers import data, explorer, images

APP = str(data.REPO_ROOT / "explorer" / "app.py")
ORIGINAL_MPLBACKEND = os.environ.get("MPLBACKEND")


def _png(mode: str, size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(0)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze() if channels == 1 else pixels, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()[:200]


@pytest.fixture
def offline_model(monkeypatch):
    monkeypatch.setenv("XAI_IMAGENET_MODEL", "efficientnet_lite0")


@pytest.fixture(scope="module")
def pollen_model():
    return explorer.load_model("pollen")


def test_prepare_image_converts_and_notes(pollen_model):
    gray = explorer.prepare_image(_png("L", (100, 80)), pollen_model)
    assert gray.tensor.shape == (3, 64, 64) and gray.display.shape == (64, 64, 3)
    assert any("converted from grayscale" in note for note in gray.notes)
    assert any("resized from 100x80 to the 64x64" in note for note in gray.notes)
    rgba = explorer.prepare_image(_png("RGBA", (64, 64)), pollen_model)
    assert rgba.notes == ["converted from RGBA to RGB"]
    huge = explorer.prepare_image(_png("RGB", (3000, 1500)), pollen_model)
    assert any("scaled down to 2048x1024" in note for note in huge.notes)
    with pytest.raises(images.ImageLoadError, match="not an image"):
        explorer.prepare_image(b"just some text", pollen_model)
    with pytest.raises(images.ImageLoadError, match="could not be decoded"):
        explorer.prepare_image(_truncated_jpeg(), pollen_model)


def test_views_have_the_expected_shapes(pollen_model):
    prepared = explorer.prepare_image(_png("RGB", (64, 64)), pollen_model)
    top = explorer.predict(pollen_model, prepared, k=5)
    assert len(top) == 5 and top[0][2] >= top[-1][2]
    maps, channels = explorer.feature_maps(pollen_model, prepared, "block 2")
    assert maps.shape == (16, 16, 16) and len(set(channels)) == 16
    heat = explorer.grad_cam_map(pollen_model, prepared, "block 4", top[0][0])
    assert heat.shape == (64, 64) and heat.min() >= 0 and heat.max() == 1  # scaled by its own peak
    assert explorer.saliency_map(pollen_model, prepared, top[1][0]).shape == (64, 64)


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        explorer.load_model("alexnet")


# --- the page, through Streamlit's AppTest --------------------------------------------------------

@pytest.fixture
def app(mirror_root, offline_model, monkeypatch):
    # Importing streamlit sets MPLBACKEND=Agg for the whole process; the notebook kernels that
    # nbval starts later inherit the environment and would then show no figures. monkeypatch
    # puts the variable back as it was after each test.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    loads = []
    original = explorer.load_model

    def counting_load(key):
        loads.append(key)
        return original(key)

    monkeypatch.setattr(explorer, "load_model", counting_load)
    test = AppTest.from_file(APP, default_timeout=180)
    test.loads = loads
    return test.run()


def _texts(elements) -> str:
    return " | ".join(str(element.value) for element in elements)


def test_default_render_shows_a_prediction(app):
    assert not app.exception, app.exception
    assert not app.error, _texts(app.error)
    assert app.selectbox(key="model").value == "imagenet"
    assert len(app.table) == 1
    assert "efficientnet_lite0" in _texts(app.caption)


def test_switching_method_layer_class_and_model(app):
    app.radio(key="method").set_value("Grad-CAM").run()
    assert "Grad-CAM map" in _texts(app.markdown)
    second = app.selectbox(key="class").options[1]
    app.selectbox(key="class").set_value(second).run()
    app.selectbox(key="layer").set_value("stage5").run()
    assert "Grad-CAM map for class " + second in _texts(app.markdown)
    app.radio(key="method").set_value("saliency").run()
    assert "saliency map" in _texts(app.markdown)
    app.selectbox(key="model").set_value("pollen").run()
    assert app.selectbox(key="layer").options == ["block 1", "block 2", "block 3", "block 4"]
    app.radio(key="method").set_value("feature maps").run()
    app.selectbox(key="model").set_value("imagenet").run()
    assert not app.exception and not app.error
    assert sorted(app.loads) == ["imagenet", "pollen"]  # each model loaded once, then cached


@pytest.mark.parametrize("upload, expected", [
    (("notes.txt", b"not an image at all", "text/plain"), "not an image file"),
    (("broken.jpg", _truncated_jpeg(), "image/jpeg"), "could not be decoded"),
])
def test_bad_uploads_show_a_message_and_the_app_keeps_running(app, upload, expected):
    app.radio(key="source").set_value("upload").run()
    app.file_uploader(key="upload").set_value(upload).run()
    assert not app.exception
    assert expected in _texts(app.error)
    app.radio(key="source").set_value("sample").run()
    assert not app.error and len(app.table) == 1


@pytest.mark.parametrize("model, upload, expected", [
    ("imagenet", ("gray.png", _png("L", (300, 200)), "image/png"), "converted from grayscale to RGB"),
    ("imagenet", ("alpha.png", _png("RGBA", (224, 224)), "image/png"), "converted from RGBA to RGB"),
    ("imagenet", ("huge.png", _png("RGB", (4000, 3000)), "image/png"), "scaled down to 2048x1536"),
    ("pollen", ("photo.png", _png("RGB", (120, 90)), "image/png"), "resized from 120x90 to the 64x64"),
])
def test_odd_uploads_are_converted_with_a_note(app, model, upload, expected):
    app.selectbox(key="model").set_value(model).run()
    app.radio(key="source").set_value("upload").run()
    app.file_uploader(key="upload").set_value(upload).run()
    assert not app.exception and not app.error, _texts(app.error)
    assert expected in _texts(app.info)
    assert len(app.table) == 1


def test_the_page_tests_leave_the_environment_as_they_found_it():
    # Runs after the AppTest tests (file order): streamlit's MPLBACKEND=Agg must not leak into
    # the notebook kernels that nbval starts afterwards.
    assert os.environ.get("MPLBACKEND") == ORIGINAL_MPLBACKEND


def test_cifar_models_are_offered_once_trained(mirror_root):
    choices = explorer.model_choices()
    assert {f"cifar10_{arch}" for arch in ("plain", "gap", "allconv")} <= set(choices)
    model = explorer.load_model("cifar10_gap")
    assert model.input_size == 32 and len(model.class_names) == 10
    samples = explorer.sample_images("cifar10_gap", mirror_root)
    assert sorted(samples) == sorted(model.class_names)
    prepared = explorer.prepare_image(samples["cat"], model)
    top = explorer.predict(model, prepared, k=3)
    assert len(top) == 3
    assert explorer.grad_cam_map(model, prepared, model.default_layer, top[0][0]).shape == (32, 32)
    upscaled = explorer.prepare_image(_png("RGB", (96, 64)), model)
    assert any("resized from 96x64 to the 32x32" in note for note in upscaled.notes)

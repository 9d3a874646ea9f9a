"""Odd images are converted to RGB or refused by name."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from xaihelpers.images import ImageLoadError, load_rgb


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_grayscale_is_converted_to_rgb():
    gray = Image.fromarray(np.full((5, 7), 100, dtype=np.uint8), mode="L")
    image = load_rgb(_encoded(gray, "PNG"))
    assert image.mode == "RGB" and image.size == (7, 5)
    assert image.getpixel((0, 0)) == (100, 100, 100)


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    image = load_rgb(_encoded(rgba, "PNG"))
    assert image.getpixel((0, 0)) == (255, 0, 0)
    assert image.getpixel((1, 1)) == (255, 255, 255)


def test_sixteen_bit_tiff_is_rescaled():
    pixels = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    image = load_rgb(_encoded(Image.fromarray(pixels), "TIFF"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (0, 0, 0) and image.getpixel((1, 1)) == (255, 255, 255)


def test_format_is_read_from_content_not_name(tmp_path):
    path = tmp_path / "really_a_tiff.jpg"
    Image.new("RGB", (3, 3), (1, 2, 3)).save(path, format="TIFF")
    assert load_rgb(path).getpixel((0, 0)) == (1, 2, 3)


def test_non_image_is_refused_by_name(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(ImageLoadError, match="notes.txt"):
        load_rgb(path)


def test_truncated_image_is_refused():
    data = _encoded(Image.new("RGB", (64, 64), (9, 9, 9)), "JPEG")
    with pytest.raises(ImageLoadError, match="could not be decoded"):
        load_rgb(data[: len(data) // 2])


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No image file"):
        load_rgb(tmp_path / "missing.png")

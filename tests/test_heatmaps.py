"""Gliding-box lacunarity against its definition and known answers; colour groups."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib import colormaps

from xaihelpers import heatmaps


@pytest.mark.parametrize("shape", [(17, 23), (32, 32)])
@pytest.mark.parametrize("size", heatmaps.BOX_SIZES)
def test_matches_the_box_by_box_definition(shape, size):
    rng = np.random.default_rng(size)
    for heatmap in (rng.random(shape), rng.random(shape) ** 6, (rng.random(shape) > 0.8).astype(float)):
        expected = heatmaps.lacunarity_reference(heatmap, size)
        got = heatmaps.lacunarity(heatmap, [size])[0]
        assert abs(got - expected) <= 1e-9 * expected


def test_constant_maps_have_lacunarity_one():
    for value in (1.0, 0.37):
        assert np.allclose(heatmaps.lacunarity(np.full((20, 20), value)), 1.0, atol=1e-12)
        assert heatmaps.lacunarity_reference(np.full((20, 20), value), 4) == pytest.approx(1.0, abs=1e-12)


def test_known_answers():
    # One bright pixel away from the border: r*r of the (n-r+1)^2 boxes hold mass 1, so
    # E[M^2] = E[M] = r^2 / boxes and Lambda = boxes / r^2.
    n = 16
    single = np.zeros((n, n))
    single[8, 8] = 1.0
    for size in heatmaps.BOX_SIZES:
        assert heatmaps.lacunarity(single, [size])[0] == pytest.approx((n - size + 1) ** 2 / size ** 2, rel=1e-12)
    # A checkerboard is uniform at every even box size: every box holds half its pixels.
    checkerboard = np.indices((n, n)).sum(axis=0) % 2
    assert np.allclose(heatmaps.lacunarity(checkerboard, [2, 4, 8]), 1.0)


def test_batches_torch_input_and_gaps():
    maps = torch.rand(5, 24, 24)
    batch = heatmaps.lacunarity(maps)
    assert batch.shape == (5, 3)
    assert np.allclose(batch[2], heatmaps.lacunarity(maps[2].numpy()))
    # Concentrating the same mass in fewer places raises lacunarity.
    spread = np.ones((24, 24))
    clustered = np.zeros((24, 24))
    clustered[:6, :6] = 16.0
    assert (heatmaps.lacunarity(clustered) > heatmaps.lacunarity(spread)).all()
    assert np.isnan(heatmaps.lacunarity(np.zeros((8, 8)))).all()


def test_bad_input_is_refused_by_name():
    with pytest.raises(ValueError, match="non-negative"):
        heatmaps.lacunarity(-np.ones((8, 8)))
    with pytest.raises(ValueError, match="does not fit"):
        heatmaps.lacunarity(np.ones((4, 4)), [8])
    with pytest.raises(ValueError, match="shape"):
        heatmaps.lacunarity(np.ones(8))


def test_colour_groups_from_values_and_from_the_rendering():
    values = np.linspace(0, 1, 101).reshape(1, -1)
    counts = heatmaps.colour_group_counts(values)
    assert counts == {"red": 16, "orange": 15, "yellow": 10, "other": 60}
    assert sum(counts.values()) == values.size
    rendered = (colormaps["jet"](np.random.default_rng(0).random((12, 12)))[..., :3] * 255).round().astype(np.uint8)
    recovered = heatmaps.values_from_colours(rendered)
    original = heatmaps.values_from_colours(colormaps["jet"](recovered)[..., :3])
    assert np.allclose(recovered, original)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        heatmaps.colour_group_counts(np.array([[2.0]]))


def test_group_thresholds_name_the_colours_they_say():
    jet = colormaps["jet"]
    red, green, blue = jet(0.9)[:3]
    assert red > 0.9 and green < 0.1 and blue == 0
    red, green, blue = jet(0.77)[:3]
    assert red == 1 and 0.4 < green < 0.6 and blue == 0  # orange
    red, green, blue = jet(0.65)[:3]
    assert red > 0.9 and green > 0.9 and blue < 0.05  # yellow


def test_reading_colours_back_equals_the_nearest_colour_of_the_table():
    # values_from_colours searches each distinct colour once; the answer must be the brute-force one.
    table = colormaps["jet"](np.linspace(0, 1, 256))[:, :3]
    rng = np.random.default_rng(4)
    for rgb in (heatmaps.render(rng.random((9, 11))), rng.random((5, 7, 3))):
        colours = rgb.astype(np.float64) / (255.0 if rgb.dtype == np.uint8 else 1.0)
        brute = ((colours.reshape(-1, 1, 3) - table[None]) ** 2).sum(-1).argmin(1).reshape(rgb.shape[:2]) / 255
        assert np.array_equal(heatmaps.values_from_colours(rgb), brute)


def test_render_gives_the_reader_colours_and_describe_reads_them_back():
    values = np.array([[0.0, 0.65, 0.8, 1.0]])
    rgb = heatmaps.render(values)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    assert tuple(rgb[0, 0]) == tuple((np.array(colormaps["jet"](0.0)[:3]) * 255).round().astype(int))
    tiled = np.tile(values, (8, 2))  # 8x8: a quarter of the pixels in each colour group
    table = heatmaps.describe(np.stack([tiled, tiled[:, ::-1]]))
    assert list(table["red"]) == [0.25, 0.25] and list(table["yellow"]) == [0.25, 0.25]
    assert list(table["orange"]) == [0.25, 0.25] and list(table["other"]) == [0.25, 0.25]

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


def test_reference_of_an_empty_map_is_nan_and_of_unit_boxes_is_one():
    assert np.isnan(heatmaps.lacunarity_reference(np.zeros((6, 6)), 2))
    # Every 2x2 box of a map of quarters holds mass 1 exactly: E[M^2] / E[M]^2 = 1.
    assert heatmaps.lacunarity_reference(np.full((6, 6), 0.25), 2) == 1.0


def test_colour_groups_are_half_open_in_any_order():
    values = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    groups = {"low": (0.0, 0.5), "high": (0.5, 1.0)}  # 0.5 opens "high"; 1.0 closes it
    assert heatmaps.colour_group_counts(values, groups) == {"low": 2, "high": 3, "other": 0}
    assert heatmaps.colour_group_counts(values, {"middle": (0.25, 0.75)}) == {"middle": 2, "other": 3}


def test_reading_back_rgba_and_uint8_renderings():
    # k / 255 is rendered as the k-th colour of jet's 256-colour table, and read back as k / 255,
    # from the float RGBA a colour map returns and from its uint8 RGBA rounding alike.
    values = np.array([[0, 51, 102, 153, 204, 255]]) / 255
    rgba = colormaps["jet"](values)
    assert np.array_equal(heatmaps.values_from_colours(rgba), values)
    assert np.array_equal(heatmaps.values_from_colours((rgba * 255).round().astype(np.uint8)), values)
    for shape in ((4, 4, 2), (4, 3)):
        with pytest.raises(ValueError, match="rendered RGB image"):
            heatmaps.values_from_colours(np.zeros(shape))


def test_uint8_colours_that_share_channel_sums_are_told_apart():
    # Pairs that a packing with too few bits per channel would merge: (1, 0, 0) and (0, 128, 0);
    # (0, 1, 0) and (0, 0, 128). Each pixel must get the nearest colour of the table, by brute force.
    rgb = np.array([[[1, 0, 0], [0, 128, 0], [0, 1, 0], [0, 0, 128], [127, 255, 127]]], dtype=np.uint8)
    table = colormaps["jet"](np.linspace(0, 1, 256))[:, :3]
    brute = ((rgb.reshape(-1, 1, 3) / 255 - table[None]) ** 2).sum(-1).argmin(1).reshape(rgb.shape[:2]) / 255
    assert np.array_equal(heatmaps.values_from_colours(rgb), brute)


def test_describe_a_single_map_and_a_batch_of_oblong_maps():
    rng = np.random.default_rng(7)
    maps = rng.random((2, 6, 10))
    table = heatmaps.describe(maps, sizes=[2, 3])
    assert list(table.columns) == ["lacunarity_2", "lacunarity_3", "red", "orange", "yellow", "other"]
    for row in range(2):
        for size in (2, 3):
            expected = heatmaps.lacunarity_reference(maps[row], size)
            assert table[f"lacunarity_{size}"][row] == pytest.approx(expected, rel=1e-12)
    # 60 pixels per map; the fractions of the four groups add up to 1.
    assert np.allclose(table[["red", "orange", "yellow", "other"]].sum(axis=1), 1.0)
    assert table["red"][0] == heatmaps.colour_group_counts(maps[0])["red"] / 60
    single = heatmaps.describe(maps[0], sizes=[2, 3])
    assert len(single) == 1 and single.iloc[0].equals(table.iloc[0])


def test_describe_reads_the_groups_back_on_the_colour_map_it_renders_with():
    tiled = np.tile(np.array([[0.0, 0.65, 0.8, 1.0]]), (8, 2))  # a quarter of the pixels in each group
    table = heatmaps.describe(tiled[None], cmap="viridis")
    assert [table[group][0] for group in ("red", "orange", "yellow", "other")] == [0.25] * 4


def test_box_masses_are_sums_and_a_box_of_one_pixel_is_allowed():
    assert np.array_equal(heatmaps._box_masses(np.ones((4, 5)), 2), np.full((3, 4), 4.0))
    assert np.array_equal(heatmaps._box_masses(np.arange(6.0).reshape(2, 3), 2), [[8.0, 12.0]])
    # Boxes of one pixel: E[x^2] / E[x]^2 = (2 / 4) / (2 / 4)^2 = 2 for a diagonal of ones.
    assert heatmaps.lacunarity(np.eye(2), [1])[0] == pytest.approx(2.0)


def test_maps_of_strings_or_complex_numbers_are_refused():
    for bad in (np.array([["a", "b"], ["c", "d"]]), np.ones((3, 3), dtype=complex)):
        with pytest.raises(TypeError, match="Expected real numbers"):
            heatmaps.lacunarity(bad)


def test_one_map_gives_one_value_per_box_size():
    assert heatmaps.lacunarity(np.ones((8, 8))).shape == (len(heatmaps.BOX_SIZES),)
    assert heatmaps.lacunarity(np.ones((2, 8, 8)), [2]).shape == (2, 1)

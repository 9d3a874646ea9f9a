"""Overlays and grids: shapes, ranges and refusals."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from xaihelpers import plotting  # noqa: E402


def test_overlay_blends_within_range():
    image = np.zeros((4, 5, 3))
    heat = np.ones((4, 5))
    out = plotting.overlay(image, heat, alpha=0.5)
    assert out.shape == (4, 5, 3) and out.min() >= 0 and out.max() <= 1
    # jet at 1.0 is dark red: half of it over black.
    assert out[0, 0, 0] == pytest.approx(0.5 * plotting.colormaps["jet"](1.0)[0])
    assert np.allclose(plotting.overlay(image, heat, alpha=0.0), image)


def test_overlay_accepts_chw_tensors_and_refuses_mismatches():
    out = plotting.overlay(torch.rand(3, 6, 6), torch.rand(6, 6))
    assert out.shape == (6, 6, 3)
    with pytest.raises(ValueError, match="upsample"):
        plotting.overlay(torch.rand(3, 6, 6), torch.rand(3, 3))
    with pytest.raises(ValueError, match="alpha"):
        plotting.overlay(np.zeros((2, 2, 3)), np.zeros((2, 2)), alpha=2)


def test_image_grid_layout_and_titles():
    figure = plotting.image_grid([np.zeros((4, 4))] * 5, [str(i) for i in range(5)], ncols=3)
    axes = figure.axes
    assert len(axes) == 6
    assert [a.get_title() for a in axes[:5]] == ["0", "1", "2", "3", "4"]
    assert not axes[5].axison
    plt.close(figure)
    with pytest.raises(ValueError, match="titles"):
        plotting.image_grid([np.zeros((2, 2))], ["a", "b"])


def test_filter_grid_needs_rgb_filters():
    figure = plotting.filter_grid(torch.randn(10, 3, 3, 3), ncols=5)
    assert len(figure.axes) == 10
    plt.close(figure)
    with pytest.raises(ValueError, match="RGB"):
        plotting.filter_grid(torch.randn(4, 1, 3, 3))


def test_rescale_constant_is_zero():
    assert np.array_equal(plotting.rescale(np.full((2, 2), 7.0)), np.zeros((2, 2)))


def test_signed_rgb_maps_signs_to_the_diverging_colours():
    signed = torch.tensor([[-1.0, 0.0, 1.0, 5.0]])
    rgb = plotting.signed_rgb(signed)
    assert rgb.shape == (1, 4, 3) and 0 <= rgb.min() and rgb.max() <= 1
    negative, zero, positive, clipped = rgb[0]
    assert negative[2] > negative[0]  # blue
    assert positive[0] > positive[2]  # red
    assert np.allclose(zero, 1.0, atol=0.05)  # white
    assert np.allclose(clipped, positive)  # values beyond 1 are clipped, not wrapped

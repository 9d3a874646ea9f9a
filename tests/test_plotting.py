"""Overlays and grids: shapes, ranges and refusals; colour maps that read the same with the
common colour-vision deficiencies."""

import re
from pathlib import Path

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
    # The heat map's top colour, inferno's pale yellow (0.988, 0.998, 0.645): half of it over black.
    assert out.shape == (4, 5, 3) and np.allclose(out, 0.5 * np.array([0.988362, 0.998364, 0.644924]))
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


def test_image_grid_colour_bar_fixes_the_scale_and_names_the_quantity():
    small = np.full((4, 4), 0.25)
    figure = plotting.image_grid([small, np.eye(4)], ["a", "b"], colorbar="activation, scaled per map",
                                 colorbar_cmap="inferno")
    bar = figure.axes[-1]
    assert len(figure.axes) == 3 and bar.get_ylabel() == "activation, scaled per map"
    # Without the bar, imshow would stretch the constant 0.25 to the ends of the map; with it, 0.25 stays 0.25.
    assert figure.axes[0].images[0].get_clim() == (0.0, 1.0)
    assert bar._colorbar.cmap.name == "inferno" and (bar._colorbar.vmin, bar._colorbar.vmax) == (0.0, 1.0)
    assert figure.axes[0].images[0].get_cmap().name == plotting.ACTIVATION_CMAP
    plt.close(figure)
    plain = plotting.image_grid([small], ["a"])
    assert len(plain.axes) == 1 and plain.axes[0].images[0].get_clim() == (0.25, 0.25)
    plt.close(plain)
    with pytest.raises(ValueError, match="colorbar="):
        plotting.image_grid([small], ["a"], colorbar_cmap="inferno")


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
    from matplotlib import colormaps

    ends = colormaps[plotting.SIGNED_CMAP]([0.0, 0.5, 1.0, 1.0])[:, :3]  # -1, 0, +1 and +5 clipped to +1
    assert rgb.shape == (1, 4, 3) and np.allclose(rgb[0], ends)
    negative, zero, positive, clipped = rgb[0]
    assert negative[2] > negative[0]  # blue
    assert positive[0] > positive[2]  # red
    assert np.allclose(zero, 1.0, atol=0.05)  # white
    assert np.allclose(clipped, positive)  # values beyond 1 are clipped, not wrapped


# Colour maps and colour-vision deficiencies. A reader with deuteranopia, protanopia or tritanopia
# sees the colours that Machado, Oliveira and Fernandes (2009) simulate (severity 1.0, a matrix on
# linear sRGB); distances are CIELAB (D65) from the simulated colour.
ROOT = Path(__file__).resolve().parents[1]
DEFICIENCIES = {
    "normal vision": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
SAMPLES = np.linspace(0.0, 1.0, 256)


def _lab_seen(srgb: np.ndarray, deficiency: str) -> np.ndarray:
    """CIELAB of sRGB colours in [0, 1] as a reader with ``deficiency`` sees them."""
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(linear @ DEFICIENCIES[deficiency].T, 0.0, 1.0)
    xyz = linear @ np.array([[0.4124564, 0.3575761, 0.1804375],
                             [0.2126729, 0.7151522, 0.0721750],
                             [0.0193339, 0.1191920, 0.9503041]]).T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _sequential_problems(name: str) -> list[str]:
    """A sequential map is read by lightness alone: L* rises (or falls) strictly along the whole
    map, over at least half of L*'s range, for every reader."""
    problems = []
    for deficiency in DEFICIENCIES:
        lightness = _lab_seen(plotting.colormaps[name](SAMPLES)[:, :3], deficiency)[:, 0]
        steps = np.diff(lightness)
        if not ((steps > 0).all() or (steps < 0).all()):
            problems.append(f"{name}: lightness not monotonic for {deficiency}")
        if np.ptp(lightness) < 50:
            problems.append(f"{name}: lightness spans only {np.ptp(lightness):.0f} for {deficiency}")
    return problems


def _diverging_problems(name: str, min_distance: float = 20.0) -> list[str]:
    """A diverging map: lightness rises from both ends to the centre, and for every reader +v and
    -v stay at least ``min_distance`` apart (CIELAB) for |v| >= 0.25, so the sign is readable."""
    problems = []
    for deficiency in DEFICIENCIES:
        lab = _lab_seen(plotting.colormaps[name](SAMPLES)[:, :3], deficiency)
        negative, positive = lab[:128], lab[128:][::-1]  # both from the end to the centre
        if not ((np.diff(negative[:, 0]) > 0).all() and (np.diff(positive[:, 0]) > 0).all()):
            problems.append(f"{name}: lightness does not rise to the centre for {deficiency}")
        apart = np.linalg.norm(negative[:96] - positive[:96], axis=1).min()  # |v| from 1 to 0.25
        if apart < min_distance:
            problems.append(f"{name}: +v and -v only {apart:.0f} apart for {deficiency}")
    return problems


def test_the_colour_conversion_matches_known_values():
    assert np.allclose(_lab_seen(np.array([1.0, 1.0, 1.0]), "normal vision"), [100, 0, 0], atol=0.01)
    assert _lab_seen(np.array([0.5, 0.5, 0.5]), "normal vision")[0] == pytest.approx(53.39, abs=0.01)
    # Protanopes and deuteranopes cannot tell pure red from a dark yellow-green: the simulation
    # keeps blue for everyone and moves red towards green.
    red = _lab_seen(np.array([1.0, 0.0, 0.0]), "deuteranopia")
    assert red[2] > 40 and abs(red[1]) < 15  # yellowish, no longer red


def test_the_book_display_maps_read_the_same_with_colour_vision_deficiencies():
    problems = _sequential_problems(plotting.HEATMAP_CMAP) + _sequential_problems(plotting.ACTIVATION_CMAP)
    problems += _diverging_problems(plotting.SIGNED_CMAP)
    assert not problems, problems


def test_the_criteria_reject_jet_and_red_green():
    assert any("normal vision" in p for p in _sequential_problems("jet"))
    red_green = _diverging_problems("RdYlGn")
    assert any("deuteranopia" in p and "apart" in p for p in red_green)
    assert any("protanopia" in p and "apart" in p for p in red_green)
    assert not any("normal vision" in p for p in red_green), "red and green are apart for normal vision"


def test_every_colour_map_a_chapter_or_the_explorer_names_is_safe():
    """Chapters and the explorer may name a map in a call (``cmap="gray"``); each must pass the
    same criteria. (The heat-map study's ``jet`` is a measurement, kept in xaihelpers.heatmaps.)"""
    sources = sorted((ROOT / "notebooks").glob("*.py")) + [ROOT / "explorer" / "app.py"]
    named = {match for path in sources
             for match in re.findall(r"""cmap=["']([\w.]+)["']""", path.read_text())}
    assert {"gray", "viridis"} <= named, f"the search finds no maps: {named}"
    problems = [p for name in sorted(named) for p in (
        _diverging_problems(name) if name == plotting.SIGNED_CMAP else _sequential_problems(name))]
    assert not problems, problems

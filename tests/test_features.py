"""Filter and feature-map summaries with known answers."""

import pytest
import torch

from xaihelpers import features


def test_first_conv_finds_the_first_convolution(tiny_cnn):
    name, conv = features.first_conv(tiny_cnn)
    assert name == "conv1" and conv is tiny_cnn.conv1
    with pytest.raises(ValueError):
        features.first_conv(torch.nn.Linear(2, 2))


def test_colour_opponency_of_known_filters():
    luminance = torch.ones(1, 3, 3, 3)
    red_minus_green = torch.zeros(1, 3, 3, 3)
    red_minus_green[0, 0], red_minus_green[0, 1] = 1.0, -1.0
    values = features.colour_opponency(torch.cat([luminance, red_minus_green]))
    assert values[0] == pytest.approx(0.0, abs=1e-7)
    assert values[1] == pytest.approx(1.0)


def test_edge_magnitude_is_zero_on_flat_regions_and_high_on_a_step():
    image = torch.zeros(1, 3, 8, 8)
    image[..., 4:] = 1.0
    edges = features.edge_magnitude(image)[0]
    assert edges[:, 0].abs().max() == 0 and edges[:, 7].abs().max() == 0
    assert (edges[:, 3] > 0).all() and (edges[:, 4] > 0).all()


def test_pearson_known_values():
    maps = torch.rand(3, 5, 5)
    assert torch.allclose(features.pearson_per_image(maps, maps), torch.ones(3))
    assert torch.allclose(features.pearson_per_image(maps, -2 * maps + 1), -torch.ones(3))
    assert features.pearson_per_image(torch.ones(1, 2, 2), maps[:1, :2, :2])[0] == 0


def test_edge_alignment_is_high_for_an_edge_detector():
    torch.manual_seed(0)
    images = torch.rand(4, 3, 16, 16)
    perfect = features.edge_magnitude(images).unsqueeze(1)
    assert (features.edge_alignment(perfect, images) > 0.99).all()


def test_strongest_channels():
    maps = torch.zeros(1, 3, 2, 2)
    maps[0, 2] = 5.0
    maps[0, 0] = 1.0
    assert features.strongest_channels(maps, 2).tolist() == [[2, 0]]


def test_top_share_known_answers():
    flat = torch.ones(1, 10, 10)
    one_hot = torch.zeros(1, 10, 10)
    one_hot[0, 3, 4] = 5.0
    shares = features.top_share(torch.cat([flat, one_hot]))
    assert torch.allclose(shares, torch.tensor([0.10, 1.0]))
    assert torch.allclose(features.top_share(flat, fraction=0.5), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="non-negative"):
        features.top_share(-flat)
    with pytest.raises(ValueError, match="fraction"):
        features.top_share(flat, fraction=0)


def test_roughness_known_answers():
    constant = torch.full((1, 8, 8), 3.0)
    yy, xx = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    checkerboard = ((yy + xx) % 2).float()[None]  # mean 0.5, every neighbour differs by 1
    ramp = xx.float()[None] + 1.0  # horizontal steps of 1 on a mean of 4.5, no vertical change
    values = features.roughness(torch.cat([constant, checkerboard, ramp]))
    assert torch.allclose(values, torch.tensor([0.0, 2.0, (1 / 4.5) / 2]), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        features.roughness(checkerboard[0])


def test_share_inside_known_answers():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[:, :2] = True  # the top half
    flat = torch.ones(2, 4, 4)
    inside = torch.zeros(2, 4, 4)
    inside[:, 0, 0] = 3.0
    assert torch.allclose(features.share_inside(flat, masks), torch.tensor([0.5, 0.5]))
    assert torch.allclose(features.share_inside(inside, masks), torch.ones(2))
    assert torch.allclose(features.share_inside(inside, ~masks), torch.zeros(2))
    with pytest.raises(ValueError, match="non-negative"):
        features.share_inside(-flat, masks)
    with pytest.raises(ValueError, match="shape"):
        features.share_inside(flat, masks[:, :2])

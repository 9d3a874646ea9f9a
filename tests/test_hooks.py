"""LayerRecorder records what it should and always removes its hooks."""

import pytest
import torch

from xaihelpers import hooks
from xaihelpers.hooks import LayerRecorder, count_hooks, get_layer, layer_name


def test_records_activation_shapes(tiny_cnn):
    with LayerRecorder(tiny_cnn, ["conv1", tiny_cnn.conv2]) as recorder:
        tiny_cnn(torch.rand(2, 3, 8, 8))
    assert recorder.activations["conv1"].shape == (2, 4, 8, 8)
    assert recorder.activations["conv2"].shape == (2, 6, 8, 8)
    assert not recorder.activations["conv1"].requires_grad


def test_records_gradients_of_the_layer_output(tiny_cnn):
    images = torch.rand(1, 3, 8, 8)
    with LayerRecorder(tiny_cnn, ["conv2"], gradients=True) as recorder:
        tiny_cnn(images)[0, 1].backward()
    gradient = recorder.gradients["conv2"]
    assert gradient.shape == (1, 6, 8, 8)
    # The score is fc(mean(relu(conv2))): its gradient is w_c / 64 where conv2 > 0, else 0.
    expected = tiny_cnn.fc.weight[1].view(1, 6, 1, 1) / 64 * (recorder.activations["conv2"] > 0)
    assert torch.allclose(gradient, expected, atol=1e-7)


def test_hooks_are_removed_after_the_block(tiny_cnn):
    assert count_hooks(tiny_cnn) == 0
    with LayerRecorder(tiny_cnn, ["conv1", "conv2"]) as recorder:
        assert count_hooks(tiny_cnn) == 2 and recorder.active
    assert count_hooks(tiny_cnn) == 0 and not recorder.active


def test_hooks_are_removed_after_an_exception(tiny_cnn):
    with pytest.raises(RuntimeError, match="boom"):
        with LayerRecorder(tiny_cnn, ["conv1"], gradients=True):
            tiny_cnn(torch.rand(1, 3, 8, 8))
            raise RuntimeError("boom")
    assert count_hooks(tiny_cnn) == 0


def test_unknown_layer_name_lists_real_names(tiny_cnn):
    with pytest.raises(KeyError, match="conv1"):
        get_layer(tiny_cnn, "conv9")
    assert layer_name(tiny_cnn, tiny_cnn.fc) == "fc"


def test_a_recorder_cannot_be_entered_twice(tiny_cnn):
    recorder = LayerRecorder(tiny_cnn, ["conv1"])
    with recorder:
        with pytest.raises(RuntimeError, match="already"):
            recorder.__enter__()
    assert count_hooks(tiny_cnn) == 0


def test_replace_output_edits_and_is_removed(tiny_cnn):
    x = torch.rand(2, 3, 8, 8)
    with hooks.ReplaceOutput(tiny_cnn, "conv2", lambda out: torch.zeros_like(out)):
        edited = tiny_cnn(x)
    # With conv2 zeroed the output is the head's bias alone.
    assert torch.allclose(edited, tiny_cnn.fc.bias.expand(2, -1))
    assert hooks.count_hooks(tiny_cnn) == 0
    assert not torch.allclose(tiny_cnn(x), edited)


def test_occlusion_by_position_sums_effects(tiny_cnn):
    x = torch.rand(2, 3, 8, 8)
    target = torch.tensor([0, 2])
    drops = hooks.occlusion_by_position(tiny_cnn, "conv2", x, target)
    assert drops.shape == (2, 8, 8)
    # After conv2 come a ReLU, average pooling over 64 positions and a linear head: zeroing one
    # position removes exactly that position's share of the logit.
    with hooks.LayerRecorder(tiny_cnn, ["relu"]) as recorder:  # the shared ReLU: its last call
        tiny_cnn(x)
    share = torch.einsum("nk,nkhw->nhw", tiny_cnn.fc.weight[target], recorder.activations["relu"]) / 64
    assert torch.allclose(drops, share, atol=1e-6)
    assert hooks.count_hooks(tiny_cnn) == 0


def test_active_fraction_counts_positive_outputs(tiny_cnn):
    images = torch.rand(4, 3, 8, 8)
    with hooks.ActiveFraction(tiny_cnn) as watcher:
        tiny_cnn(images)
    assert list(watcher.fractions) == ["relu"]
    # The one ReLU module runs twice (after conv1 and after conv2): both calls count.
    with torch.no_grad():
        first = tiny_cnn.relu(tiny_cnn.conv1(images))
        second = tiny_cnn.relu(tiny_cnn.conv2(first))
    positive = (first > 0).sum().item() + (second > 0).sum().item()
    assert watcher.fractions["relu"] == pytest.approx(positive / (first.numel() + second.numel()))
    assert hooks.count_hooks(tiny_cnn) == 0


def test_reduce_activations_equals_one_big_recording_and_leaves_no_hooks(tiny_cnn):
    images = torch.rand(7, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), LayerRecorder(tiny_cnn, ["conv1", "conv2"]) as recorder:
        tiny_cnn(images)
    seen = []

    def channel_means(name, activations, chunk):
        seen.append((name, len(chunk)))
        assert len(activations) == len(chunk)
        return activations.mean(dim=(2, 3))

    reduced = hooks.reduce_activations(tiny_cnn, ["conv1", tiny_cnn.conv2], images, channel_means, batch_size=3)
    assert [n for _, n in seen] == [3, 3, 3, 3, 1, 1]
    for name in ("conv1", "conv2"):
        assert torch.allclose(reduced[name], recorder.activations[name].mean(dim=(2, 3)), atol=1e-6)
    assert count_hooks(tiny_cnn) == 0
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        hooks.reduce_activations(tiny_cnn, ["conv1"], images, channel_means, batch_size=0)


def test_reduce_activations_can_stop_each_pass_once_its_layers_have_run(tiny_cnn):
    images = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))

    def channel_means(name, activations, chunk):
        return activations.mean(dim=(2, 3))

    whole = hooks.reduce_activations(tiny_cnn, ["conv1"], images, channel_means, batch_size=2)
    with hooks.CallCounter(tiny_cnn, ["conv1", "conv2", "fc"]) as counter:
        stopped = hooks.reduce_activations(tiny_cnn, ["conv1"], images, channel_means, batch_size=2, stop_after=True)
    assert torch.equal(stopped["conv1"], whole["conv1"])
    assert counter.counts == {"conv1": 3, "conv2": 0, "fc": 0}  # three passes, each ended after conv1
    with hooks.CallCounter(tiny_cnn, ["fc"]) as counter:  # both layers recorded before the pass ends
        both = hooks.reduce_activations(tiny_cnn, [tiny_cnn.conv2, "conv1"], images, channel_means, stop_after=True)
    assert counter.counts == {"fc": 0} and set(both) == {"conv1", "conv2"}
    assert count_hooks(tiny_cnn) == 0
    assert tiny_cnn(images).shape == (5, 3)  # the model runs whole again afterwards


def test_every_hook_owner_of_the_book_is_a_hook_owner_and_cleans_up_after_an_error(tiny_cnn):
    from xaihelpers import evaluation

    owners = [hooks.LayerRecorder(tiny_cnn, ["conv1"]), hooks.ReplaceOutput(tiny_cnn, "conv1", lambda out: out),
              hooks.ActiveFraction(tiny_cnn), hooks.OnForward(tiny_cnn, "conv1", lambda *args: None, before=True),
              evaluation.PassCounter(tiny_cnn)]
    for owner in owners:
        assert isinstance(owner, hooks.HookOwner)
        with pytest.raises(ZeroDivisionError):
            with owner:
                assert owner.active and hooks.count_hooks(tiny_cnn) > 0
                tiny_cnn(torch.rand(1, 3, 8, 8))
                1 / 0
        assert not owner.active and hooks.count_hooks(tiny_cnn) == 0, type(owner).__name__


def test_on_forward_sees_a_layers_input_before_it_runs(tiny_cnn):
    seen = []
    with hooks.OnForward(tiny_cnn, "fc", lambda module, args: seen.append(args[0].shape), before=True):
        tiny_cnn(torch.rand(2, 3, 8, 8))
    assert seen == [torch.Size([2, 6])]


def test_call_counter_tells_a_shared_module_from_a_single_use_one(tiny_cnn):
    from xaihelpers.hooks import CallCounter

    with CallCounter(tiny_cnn, ["relu", "conv1"]) as counter:
        tiny_cnn(torch.rand(1, 3, 8, 8))
    assert counter.counts == {"relu": 2, "conv1": 1}
    assert not counter.active and not tiny_cnn.relu._forward_hooks

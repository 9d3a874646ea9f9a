"""Recording what named layers compute (and the gradients that reach them) during a forward pass.

:class:`LayerRecorder` owns its hooks and is a context manager, so the hooks are removed when the
``with`` block ends, also when it ends with an exception: a forgotten hook would silently slow down
or change every later forward pass of the model.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from xaihelpers import checks
from xaihelpers.typing import LayerRef


def get_layer(model: nn.Module, layer: LayerRef) -> nn.Module:
    """Return ``layer`` itself, or the submodule of ``model`` with that dotted name.

    Raises:
        KeyError: If ``model`` has no submodule of that name (the message lists a few it has).
    """
    if isinstance(layer, nn.Module):
        return layer
    try:
        return model.get_submodule(layer)
    except AttributeError:
        names = [name for name, _ in model.named_modules() if name][:12]
        raise KeyError(
            f"The model has no layer '{layer}'. Layer names look like: {', '.join(names)}, ..."
        ) from None


def layer_name(model: nn.Module, layer: LayerRef) -> str:
    """The dotted name of ``layer`` inside ``model`` (the name itself if given a string)."""
    if isinstance(layer, str):
        return layer
    for name, module in model.named_modules():
        if module is layer:
            return name
    raise KeyError(f"{type(layer).__name__} is not a submodule of the model.")


def count_hooks(model: nn.Module) -> int:
    """Number of forward, forward-pre and backward hooks registered on ``model``'s modules."""
    return sum(
        len(module._forward_hooks) + len(module._forward_pre_hooks) + len(module._backward_hooks)
        for module in model.modules()
    )


class HookOwner:
    """Base of the hook-owning context managers: :meth:`_register` adds hooks through
    :meth:`_own`, and every owned hook is removed on exit (or by :meth:`remove`).

    An owner is not re-entrant: entering it while its hooks are registered is an error.
    """

    def __init__(self) -> None:
        self._handles: list[RemovableHandle] = []

    @property
    def active(self) -> bool:
        """Whether the hooks are currently registered."""
        return bool(self._handles)

    def _own(self, handle: RemovableHandle) -> RemovableHandle:
        self._handles.append(handle)
        return handle

    def _register(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        if self.active:
            raise RuntimeError(f"This {type(self).__name__} is already active.")
        try:
            self._register()
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Remove every hook this owner registered (safe to call twice)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __exit__(self, *exc_info) -> None:
        self.remove()


class OnForward(HookOwner):
    """Call ``function(module, inputs, output)`` after every forward pass of one layer while the
    block runs (a returned tensor replaces the output); with ``before=True``, call
    ``function(module, inputs)`` before it instead (a forward pre-hook)."""

    def __init__(self, model: nn.Module, layer: LayerRef, function: Callable, *, before: bool = False) -> None:
        super().__init__()
        self.module = get_layer(model, layer)
        self.function, self.before = function, before

    def _register(self) -> None:
        register = self.module.register_forward_pre_hook if self.before else self.module.register_forward_hook
        self._own(register(self.function))


class CallCounter(HookOwner):
    """Count the forward calls of named layers while the block runs (``counts[name]``): a layer
    called more than once in a pass is a shared module, whose calls a hook cannot tell apart."""

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        self.modules = {name: get_layer(model, name) for name in layers}
        self.counts: dict[str, int] = {}

    def _register(self) -> None:
        self.counts = dict.fromkeys(self.modules, 0)
        for name, module in self.modules.items():
            self._own(module.register_forward_hook(lambda *_, key=name: self.counts.__setitem__(key, self.counts[key] + 1)))


class LayerRecorder(HookOwner):
    """Record activations (and optionally their gradients) of named layers.

    Use it as a context manager around the forward (and backward) pass::

        with LayerRecorder(model, ["net.layer3", "net.layer4"], gradients=True) as rec:
            model(x)[:, target].sum().backward()
        rec.activations["net.layer4"], rec.gradients["net.layer4"]

    A layer that runs more than once in a pass (a shared activation module) keeps its last call.

    Args:
        model: The network.
        layers: Dotted module names or the modules themselves.
        gradients: Also record the gradient of the loss with respect to each layer's output (the
            output must require grad, as it does in a normal backward pass).
        detach: Store detached copies (default). ``False`` keeps the graph, for methods that
            differentiate through the recorded activations.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[LayerRef],
        *,
        gradients: bool = False,
        detach: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.names = [layer_name(model, layer) for layer in layers]
        self.modules = [get_layer(model, layer) for layer in layers]
        self.record_gradients = gradients
        self.detach = detach
        self.activations: dict[str, torch.Tensor] = {}
        self.gradients: dict[str, torch.Tensor] = {}

    def _forward_hook(self, name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"Layer '{name}' returns {type(output).__name__}, not a tensor.")
            self.activations[name] = output.detach() if self.detach else output
            if self.record_gradients and output.requires_grad:
                def store(grad: torch.Tensor) -> None:
                    self.gradients[name] = grad.detach()

                output.register_hook(store)

        return hook

    def _register(self) -> None:
        self.activations.clear()
        self.gradients.clear()
        for name, module in zip(self.names, self.modules):
            self._own(module.register_forward_hook(self._forward_hook(name)))


class _Recorded(Exception):
    """Raised inside a forward pass once every recorded layer has given its output."""


class _StopOnceRecorded(HookOwner):
    """Ends the forward pass (by raising :class:`_Recorded`) once ``recorder`` holds every layer;
    registered after the recorder's own hooks, so a layer is stored before the pass ends."""

    def __init__(self, recorder: LayerRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def _register(self) -> None:
        def hook(module: nn.Module, inputs, output) -> None:
            if len(self.recorder.activations) == len(set(self.recorder.names)):
                raise _Recorded

        for module in self.recorder.modules:
            self._own(module.register_forward_hook(hook))


def reduce_activations(
    model: nn.Module,
    layers: Iterable[LayerRef],
    images: torch.Tensor,
    reduce: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 20,
    stop_after: bool = False,
) -> dict[str, torch.Tensor]:
    """Record ``layers`` on ``images`` a few images at a time, keeping only a reduction of each.

    Early feature maps of a 224x224 network take megabytes per image; recording them for a
    hundred images at once needs gigabytes. This runs ``batch_size`` images per forward pass (no
    gradients), calls ``reduce(layer_name, activations, those_images)`` on each layer's output and
    concatenates the reductions along the first dimension.

    Args:
        model: The network (its mode is not changed).
        layers: Dotted module names or modules.
        images: ``(N, C, H, W)`` input batch, on the model's device.
        reduce: Maps one chunk's ``(n, ...)`` activations to an ``(n, ...)`` result.
        batch_size: Images per forward pass.
        stop_after: End each forward pass as soon as every layer has given its output, instead
            of running the rest of the network for nothing: for early layers, most of the time.
            Only for layers that run once per pass (a shared module would be recorded at its
            first call instead of its last).

    Returns:
        Layer name -> the concatenated reductions, ``(N, ...)``.

    Raises:
        ValueError: If ``images`` is not a finite batch or ``batch_size`` is not positive.
    """
    checks.images(images)
    checks.positive_int(batch_size, "batch_size")
    layers = list(layers)
    parts: dict[str, list[torch.Tensor]] = {}
    for chunk in torch.split(images, batch_size):
        with torch.no_grad(), LayerRecorder(model, layers) as recorder:
            try:
                with (_StopOnceRecorded(recorder) if stop_after else contextlib.nullcontext()):
                    model(chunk)
            except _Recorded:
                pass
        for name in recorder.names:
            parts.setdefault(name, []).append(reduce(name, recorder.activations[name], chunk))
    return {name: torch.cat(values) for name, values in parts.items()}


class ReplaceOutput(OnForward):
    """Edit a layer's output during the forward pass: ``function(output) -> new output``.

    A forward hook that returns a tensor replaces the layer's output; this context manager owns
    such a hook and removes it on exit::

        with ReplaceOutput(model, "features.2", lambda out: out * 0):
            model(x)   # as if features.2 produced zeros
    """

    def __init__(self, model: nn.Module, layer: LayerRef, function: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__(model, layer, lambda module, inputs, output: function(output))


def occlusion_by_position(model: nn.Module, layer: LayerRef, images: torch.Tensor,
                          target: torch.Tensor) -> torch.Tensor:
    """Drop of the ``target`` logit when a layer's activations at one position (all channels) are
    set to zero: captum's ``LayerFeatureAblation`` with one feature per position.

    Returns ``(N, h, w)`` for a layer with ``(N, C, h, w)`` output: one forward pass per position.
    """
    from captum.attr import LayerFeatureAblation

    with torch.no_grad(), LayerRecorder(model, [layer]) as recorder:
        model(images[:1])
    height, width = recorder.activations[layer_name(model, layer)].shape[-2:]
    positions = torch.arange(height * width).view(1, 1, height, width)
    drops = LayerFeatureAblation(model, get_layer(model, layer)).attribute(
        images, target=target, layer_baselines=0.0, layer_mask=positions)
    return drops[:, 0].detach()


class ActiveFraction(HookOwner):
    """Forward hooks on every ``nn.ReLU`` that count the fraction of positive outputs.

    ``fractions`` maps each ReLU's name to positive / total over all passes made inside the block.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.counts: dict[str, tuple[int, int]] = {}

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs, output: torch.Tensor) -> None:
            positive, total = self.counts.get(name, (0, 0))
            self.counts[name] = (positive + int((output > 0).sum()), total + output.numel())

        return hook

    def _register(self) -> None:
        for name, module in self.model.named_modules():
            if isinstance(module, nn.ReLU):
                self._own(module.register_forward_hook(self._hook(name)))

    @property
    def fractions(self) -> dict[str, float]:
        return {name: positive / total for name, (positive, total) in self.counts.items()}

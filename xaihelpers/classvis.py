"""Class-model visualisation: the image a classifier finds most typical of a class.

Gradient ascent on a class score from a neutral grey image, with L2 regularisation
(Simonyan et al. 2013, "Deep Inside Convolutional Networks"), optionally with the regularisers
of Yosinski et al. 2015 ("Understanding Neural Networks Through Deep Visualization"): a Gaussian
blur every ``blur_every`` steps, which removes the high frequencies the gradient keeps adding,
and random jitter (a shift of the image before each step), which keeps the optimisation from
relying on exact pixel positions. No library in the book's stack provides this, so it lives here.

Cost: one forward and one backward pass per step for the whole batch of classes.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torchvision.transforms.functional import gaussian_blur
from tqdm import tqdm

from xaihelpers import checks, inference, repro

#: Grey level of the neutral starting image (the middle of the [0, 1] pixel range).
NEUTRAL = 0.5


@dataclass
class ClassModelResult:
    """What :func:`class_model` returns.

    Attributes:
        images: The optimised images, (C, 3, H, W) in [0, 1], one per requested class.
        scores: The class score (logit) of each image after every step, (steps + 1, C); row 0 is
            the score of the starting image.
        probabilities: Softmax probability of each image's class at the end, (C,).
        predicted: The class the model predicts for each image after every step, (steps + 1, C):
            when the network "changes its mind" when starting from a photo.
        logits: Every class's logit for each final image, (C, classes), from the same pass as
            ``probabilities``.
    """

    images: torch.Tensor
    scores: torch.Tensor
    probabilities: torch.Tensor
    predicted: Optional[torch.Tensor] = None
    logits: Optional[torch.Tensor] = None


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of a batch (N, 3, H, W) with standard deviation ``sigma`` in pixels.

    The kernel spans about three standard deviations on each side.
    """
    if sigma <= 0:
        return images
    radius = max(1, int(3 * sigma + 0.5))
    return gaussian_blur(images, kernel_size=[2 * radius + 1, 2 * radius + 1], sigma=[sigma, sigma])


def high_frequency_energy(images: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Share of each image's spectral energy above a spatial frequency, (N,).

    The mean grey level (DC component) is removed first, so the value measures how much of the
    image's *variation* is fine detail: 0 for a smooth image, close to 1 for pixel noise.

    Args:
        images: (N, C, H, W).
        cutoff: Frequency in cycles per pixel (0.5 is the Nyquist limit) above which energy counts
            as high-frequency.
    """
    centred = images - images.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs().pow(2).sum(dim=1)
    fy = torch.fft.fftfreq(images.shape[-2])[:, None]
    fx = torch.fft.fftfreq(images.shape[-1])[None, :]
    high = (fy.pow(2) + fx.pow(2)).sqrt() > cutoff
    total = power.flatten(1).sum(1).clamp_min(1e-20)
    return (power * high).flatten(1).sum(1) / total


def typical_wavelength(images: torch.Tensor) -> torch.Tensor:
    """The typical size of each image's patterns: the power-weighted mean spatial wavelength of its
    grey levels, in pixels, (N,). A pattern that repeats every ``w`` pixels gives about ``w``;
    larger shapes give larger values. The mean grey level is removed first.

    Raises:
        ValueError: If ``images`` is not a batch ``(N, C, H, W)`` or an image is constant.
    """
    checks.images(images)
    gray = images.mean(dim=1)
    power = torch.fft.rfft2(gray - gray.mean(dim=(1, 2), keepdim=True)).abs().pow(2)
    if bool((power.flatten(1).sum(dim=1) == 0).any()):
        raise ValueError("a constant image has no patterns, hence no wavelength.")
    fy = torch.fft.fftfreq(gray.shape[-2])[:, None].abs()
    fx = torch.fft.rfftfreq(gray.shape[-1])[None, :]
    radius = (fy ** 2 + fx ** 2).sqrt()
    return 1 / ((power * radius).sum(dim=(1, 2)) / power.sum(dim=(1, 2)))


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _windows(padded_shape, kernel, stride, dilation):
    """The ``(rows, columns)`` slices of the padded input that each kernel tap ``(i, j)`` reads."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    out_h, out_w = _output_size(padded_shape, kernel, stride, (0, 0), dilation)
    return {(i, j): (slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh), slice(j * dw, j * dw + sw * (out_w - 1) + 1, sw))
            for i in range(kh) for j in range(kw)}


@functools.cache
def _compiled_sums(fused: bool):
    """The depthwise sums and their input gradient compiled by numba (a dependency of shap), on
    channels-last arrays ``(N, H, W, C)``, or ``None`` where numba is not installed.

    Every sum adds the products of the kernel taps in the order of :func:`_windows`, starting from
    zero, as one ``addcmul_`` per tap over whole tensors adds them, but a row at a time in the
    cache. Taps that fall on the zero padding are skipped: their products are zeros, and adding a
    zero to a sum that started at +0 changes no bit. One thread per output row (input row for the
    gradient), so the thread count changes no bit either. ``fused``: each product is added with a
    fused multiply-add, as torch's vectorised kernels add it; its baseline kernel
    (``ATEN_CPU_CAPABILITY=default``) multiplies, then adds.
    """
    try:
        import numba
    except ImportError:
        return None
    compile_ = numba.njit(parallel=True, fastmath={"contract"} if fused else False)

    @numba.njit(inline="always")
    def columns(first, stride, count, width):
        """The outputs x whose input column ``first + x * stride`` lies in [0, width)."""
        low = max(0, (stride - 1 - first) // stride)
        return low, max(low, min(count, (width - 1 - first) // stride + 1))

    @numba.njit(inline="always")
    def add_tap(target, target_start, target_step, source, source_start, source_step, taps, count):
        """Adds ``source[source_start + k * source_step] * taps`` to ``target[target_start + k * target_step]``
        for k < count: one kernel tap's products, channel by channel."""
        for k in range(count):
            total, values = target[target_start + k * target_step], source[source_start + k * source_step]
            for channel in range(taps.shape[0]):
                total[channel] += values[channel] * taps[channel]

    @compile_
    def forward(inputs, weight, out, stride_h, stride_w, padding_h, padding_w, dilation_h, dilation_w):
        height, width, out_h, out_w = inputs.shape[1], inputs.shape[2], out.shape[1], out.shape[2]
        for row in numba.prange(inputs.shape[0] * out_h):
            image, y = row // out_h, row % out_h
            target = out[image, y]
            target[:, :] = 0.0
            for i in range(weight.shape[0]):
                source_y = y * stride_h + i * dilation_h - padding_h
                if source_y < 0 or source_y >= height:
                    continue
                source = inputs[image, source_y]
                for j in range(weight.shape[1]):
                    first = j * dilation_w - padding_w
                    low, high = columns(first, stride_w, out_w, width)
                    add_tap(target, low, 1, source, first + low * stride_w, stride_w, weight[i, j], high - low)

    @compile_
    def input_gradient(grad, weight, grad_inputs, stride_h, stride_w, padding_h, padding_w, dilation_h, dilation_w):
        out_h, out_w, height, width = grad.shape[1], grad.shape[2], grad_inputs.shape[1], grad_inputs.shape[2]
        for row in numba.prange(grad.shape[0] * height):
            image, y = row // height, row % height
            target = grad_inputs[image, y]
            target[:, :] = 0.0
            for i in range(weight.shape[0]):
                # The output row that tap row i reads this input row from, if any.
                offset = y + padding_h - i * dilation_h
                if offset < 0 or offset % stride_h or offset // stride_h >= out_h:
                    continue
                source = grad[image, offset // stride_h]
                for j in range(weight.shape[1]):
                    first = j * dilation_w - padding_w
                    low, high = columns(first, stride_w, out_w, width)
                    add_tap(target, first + low * stride_w, stride_w, source, low, 1, weight[i, j], high - low)

    return forward, input_gradient


def _compiled_sums_for(tensor: torch.Tensor):
    """:func:`_compiled_sums` for a CPU tensor, rounding as torch's own kernels round at the
    instruction set torch chose; ``None`` on other devices."""
    if tensor.device.type != "cpu":
        return None
    return _compiled_sums(torch.backends.cpu.get_cpu_capability() != "DEFAULT")


def _channels_last_array(tensor: torch.Tensor):
    """``tensor`` (N, C, H, W) as a NumPy array (N, H, W, C) that shares its memory, after a copy
    only where the tensor is not channels-last already."""
    return tensor.detach().contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).numpy()


def _layout(tensor: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if tensor.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


class _DepthwiseAsSums(torch.autograd.Function):
    """The sums and their gradients written out: autograd's own gradient of a strided slice
    allocates and zero-fills a whole input per kernel tap, which cost more than the sums. On the
    CPU the sums run compiled (:func:`_compiled_sums`, the same bits) in the channels-last layout
    of the book's ImageNet model, elsewhere as one ``addcmul_`` per kernel tap."""

    @staticmethod
    def forward(ctx, inputs, weight, stride, padding, dilation):
        ctx.save_for_backward(inputs, weight)
        ctx.geometry = (inputs.shape, stride, padding, dilation)
        compiled = _compiled_sums_for(inputs)
        if compiled:
            out_h, out_w = _output_size(inputs.shape, weight.shape[-2:], stride, padding, dilation)
            total = torch.empty((len(inputs), inputs.shape[1], out_h, out_w), dtype=inputs.dtype,
                                memory_format=torch.channels_last)
            compiled[0](_channels_last_array(inputs), _taps(weight), total.permute(0, 2, 3, 1).numpy(), *stride,
                        *padding, *dilation)
            return total.contiguous(memory_format=_layout(inputs))
        padded, windows = _padded_windows(inputs, weight, stride, padding, dilation)
        (first_rows, first_columns), *_ = windows.values()
        total = padded.new_zeros(padded[..., first_rows, first_columns].shape)
        for (i, j), (rows, columns) in windows.items():
            total.addcmul_(padded[..., rows, columns], weight[:, 0, i, j].view(1, -1, 1, 1))
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        inputs, weight = ctx.saved_tensors
        shape, stride, padding, dilation = ctx.geometry
        compiled = _compiled_sums_for(grad)
        grad_inputs = grad_weight = None
        if ctx.needs_input_grad[0] and compiled:
            grad_inputs = torch.empty(shape, dtype=grad.dtype, memory_format=torch.channels_last)
            compiled[1](_channels_last_array(grad), _taps(weight), grad_inputs.permute(0, 2, 3, 1).numpy(), *stride,
                        *padding, *dilation)
            grad_inputs = grad_inputs.contiguous(memory_format=_layout(grad))
        if (ctx.needs_input_grad[0] and not compiled) or ctx.needs_input_grad[1]:
            padded, windows = _padded_windows(inputs, weight, stride, padding, dilation)
            if grad_inputs is None and ctx.needs_input_grad[0]:
                (ph, pw) = padding
                grad_padded = torch.zeros_like(padded)
                for (i, j), (rows, columns) in windows.items():
                    grad_padded[..., rows, columns].addcmul_(grad, weight[:, 0, i, j].view(1, -1, 1, 1))
                grad_inputs = grad_padded[..., ph: ph + shape[-2], pw: pw + shape[-1]]
            if ctx.needs_input_grad[1]:
                grad_weight = torch.zeros_like(weight)
                for (i, j), (rows, columns) in windows.items():
                    grad_weight[:, 0, i, j] = (padded[..., rows, columns] * grad).sum(dim=(0, 2, 3))
        return grad_inputs, grad_weight, None, None, None


def _padded_windows(inputs, weight, stride, padding, dilation):
    """The zero-padded input and the slices of it that each kernel tap reads (:func:`_windows`)."""
    (ph, pw) = padding
    padded = F.pad(inputs, (pw, pw, ph, ph)) if ph or pw else inputs
    return padded, _windows(padded.shape, weight.shape[-2:], stride, dilation)


def _output_size(shape, kernel, stride, padding, dilation) -> tuple[int, int]:
    """Height and width of a convolution's output, as ``F.conv2d`` sizes it."""
    return tuple((shape[-2 + axis] + 2 * padding[axis] - dilation[axis] * (kernel[axis] - 1) - 1) // stride[axis] + 1
                 for axis in range(2))


def _taps(weight: torch.Tensor):
    """A depthwise weight (C, 1, kh, kw) as a NumPy array (kh, kw, C): the taps of every channel side by side."""
    return weight.detach()[:, 0].permute(1, 2, 0).contiguous().numpy()


def depthwise_conv2d_as_sums(inputs: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                             stride=1, padding=0, dilation=1) -> torch.Tensor:
    """A depthwise convolution (one filter per channel, ``groups`` = channels) as a sum of ``k * k``
    shifted, per-channel scaled copies of the input: what ``F.conv2d(..., groups=channels)`` computes,
    up to the order of the additions, with gradients for the input and the weight.

    Why: on the CPU, PyTorch has no vectorised float64 kernel for grouped convolutions and runs one
    channel at a time (thousands of calls per pass of EfficientNet-Lite0); as shifted sums each tap
    is one vectorised operation over every channel.

    Args:
        inputs: ``(N, C, H, W)``.
        weight: ``(C, 1, kh, kw)``.
        bias: ``(C,)`` or ``None``.
        stride, padding, dilation: As for ``F.conv2d`` (an int or a pair; zero padding).
    """
    total = _DepthwiseAsSums.apply(inputs, weight, _pair(stride), _pair(padding), _pair(dilation))
    return total if bias is None else total + bias.view(1, -1, 1, 1)


class Float64DepthwiseAsSums(TorchFunctionMode):
    """Inside this context, every float64 depthwise ``conv2d`` runs as
    :func:`depthwise_conv2d_as_sums`: a float64 class-model step of EfficientNet-Lite0 then takes
    about twice a float32 one instead of about seven. Other calls, and every call after the context,
    are left alone."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.conv2d:
            call = dict(zip(("input", "weight", "bias", "stride", "padding", "dilation", "groups"), args), **kwargs)
            inputs, weight, groups = call["input"], call["weight"], call.get("groups", 1)
            if (inputs.dtype == torch.float64 and groups > 1 and groups == inputs.shape[1] == weight.shape[0]
                    and not isinstance(call.get("padding", 0), str)):
                return depthwise_conv2d_as_sums(inputs, weight, call.get("bias"), call.get("stride", 1),
                                                call.get("padding", 0), call.get("dilation", 1))
        return func(*args, **kwargs)


def _blur_plan(blur_every, blur_sigma, count: int) -> dict[tuple[int, float], list[int]]:
    """Which images to blur how: {(every, sigma): image positions}, from scalars or per-image lists."""
    def per_image(value, name):
        if isinstance(value, (list, tuple)):
            if len(value) != count:
                raise ValueError(f"{name} has {len(value)} values for {count} classes: give one value, "
                                 f"or one per class.")
            return list(value)
        return [value] * count

    plan: dict[tuple[int, float], list[int]] = {}
    for position, (every, sigma) in enumerate(zip(per_image(blur_every, "blur_every"),
                                                  per_image(blur_sigma, "blur_sigma"))):
        if every is None:
            continue
        checks.positive_int(every, "blur_every")
        checks.positive(sigma, "blur_sigma")
        plan.setdefault((every, float(sigma)), []).append(position)
    return plan


def class_model(
    model: nn.Module,
    classes: Sequence[int],
    *,
    steps: int = 100,
    size: int = 128,
    step_size: float = 0.01,
    l2: float = 0.01,
    blur_every: Optional[int] | Sequence[Optional[int]] = None,
    blur_sigma: float | Sequence[float] = 1.0,
    jitter: int = 0,
    seed: int = 0,
    progress: bool = False,
    start: Optional[torch.Tensor] = None,
    score: str = "logit",
    total_variation: float = 0.0,
    dtype: Optional[torch.dtype] = None,
    pixels_per_pass: int = inference.PIXELS_PER_PASS,
) -> ClassModelResult:
    r"""Optimise one image per class to maximise the class score.

    Maximises :math:`S_c(x) - \lambda \lVert x - x_0 \rVert_2^2` by normalised gradient ascent
    (the gradient is divided by its root mean square, so a typical pixel moves by ``step_size``
    per step whatever the gradient's scale), keeping
    pixels in [0, 1]; :math:`x_0` is the neutral grey image and :math:`S_c` the unnormalised score
    (logit), as Simonyan et al. recommend, since maximising the softmax probability can be done by
    lowering the other classes.

    Args:
        model: A classifier that takes images in [0, 1] and returns logits; it is used in eval mode.
        classes: Class indices (a class may repeat); the images are optimised together as one
            batch, each independently of the others.
        steps: Number of gradient-ascent steps.
        size: Side of the square image in pixels.
        step_size: Typical (root-mean-square) change of a pixel per step.
        l2: Weight :math:`\lambda` of the L2 penalty.
        blur_every: Blur the image every this many steps (``None``: never); or one such value
            per class, to compare settings in one batch (faster than one run per setting).
        blur_sigma: Standard deviation of that blur in pixels; or one value per class.
        jitter: Largest random shift in pixels applied (circularly) before each step.
        seed: Seed of the jitter and of the tiny noise that breaks the symmetry of the start image.
        progress: Show a tqdm progress bar.
        start: Start images ``(C, 3, H, W)`` in [0, 1] instead of the neutral grey (for example a
            photo of another class); ``size`` is then theirs. The L2 penalty still pulls towards
            grey: pass ``l2=0`` to leave the photo alone but for the ascent.
        score: What is maximised: ``"logit"`` (Simonyan et al.'s choice) or ``"log_probability"``
            (the log-softmax, which can also rise by lowering the other classes).
        total_variation: Weight of a total-variation penalty (the mean squared difference between
            neighbouring pixels, times the number of values): an alternative to the blur.
        dtype: The floating-point type the optimisation runs in (``None``: the model's own). Another
            type runs on a converted copy of the model, with its batch norms folded into the
            convolutions (:func:`xaihelpers.inference.batch_norms_folded`); the caller's model is
            left as it is. Each normalised step amplifies the differences in the last bits that
            CPUs with other vector instructions (AVX-512, AVX2, SSE) produce, and after a hundred
            steps a float32 run ends in another image with other scores; in ``torch.float64`` the
            same differences stay far below the printed digits, at about twice the time (float64
            depthwise convolutions run as :class:`Float64DepthwiseAsSums`).
        pixels_per_pass: Budget of images x height x width of one forward and backward pass, for
            float32 (a float64 pass takes half as many, at the same memory); the images are
            optimised independently, so the split changes nothing but the peak memory.

    Returns:
        The images, the score history and the final probabilities.

    Raises:
        ValueError: If ``classes`` is empty, or ``steps`` or ``size`` is not positive.
    """
    _check_settings(classes, steps=steps, size=size, step_size=step_size, l2=l2, jitter=jitter, start=start,
                    score=score, total_variation=total_variation, dtype=dtype)
    blur_plan = _blur_plan(blur_every, blur_sigma, len(classes))
    converted = dtype is not None and dtype != next(model.parameters()).dtype
    if converted:
        model = copy.deepcopy(model).to(dtype)
    dtype = next(model.parameters()).dtype
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    target = torch.as_tensor(list(classes), device=device)
    rows = torch.arange(len(target), device=device)
    image = _start_image(start, len(target), size, generator).to(device, dtype)
    if converted:
        # The copy is ours: its batch norms fold into the convolutions (1.2x per float64 step,
        # benchmarks/runtime_settings.py); in float64 that moves nothing near the printed digits.
        # A network the fold would change (a convolution's output also used unnormalised) climbs unfolded.
        with Float64DepthwiseAsSums() if dtype == torch.float64 else contextlib.nullcontext():
            with contextlib.suppress(ValueError):
                model = inference.batch_norms_folded(model, image[:1])
    scores, predicted = [], []
    per_pass = inference.images_per_pass(image.shape, pixels_per_pass * 4 // image.element_size())
    precision = Float64DepthwiseAsSums() if dtype == torch.float64 else contextlib.nullcontext()
    # Only the image's gradient is needed: frozen parameters spare the float64 depthwise
    # convolutions' weight gradients (1.2x per step, benchmarks/runtime_settings.py).
    with inference.eval_mode(model), inference.frozen(model), precision:
        for step in tqdm(range(steps + 1), desc="class model", disable=not progress):
            shift = (0, 0)
            if jitter:
                shift = tuple(int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
            logits, gradient = _logits_and_gradient(model, image, shift, target, score, l2, total_variation,
                                                    need_gradient=step < steps, per_pass=per_pass,
                                                    check_classes=step == 0)
            scores.append(logits[rows, target].cpu())
            predicted.append(logits.argmax(dim=1).cpu())
            if step == steps:
                probabilities = logits.softmax(dim=1)[rows, target].cpu()
                final_logits = logits.cpu()
                break
            with torch.no_grad():
                scale = gradient.pow(2).flatten(1).mean(dim=1).sqrt().clamp_min(1e-12)[:, None, None, None]
                image = (image + step_size * gradient / scale).clamp(0, 1)
                for (every, sigma), members in blur_plan.items():
                    if (step + 1) % every == 0:
                        image[members] = blur(image[members], sigma)
    return ClassModelResult(image.detach().cpu(), torch.stack(scores), probabilities, torch.stack(predicted),
                            final_logits)


def _check_settings(classes: Sequence[int], *, steps, size, step_size, l2, jitter, start, score, total_variation,
                    dtype) -> None:
    """Refuse :func:`class_model`'s settings that make no sense, naming the setting."""
    if len(classes) == 0:
        raise ValueError("classes is empty: give at least one class index")
    checks.positive_int(steps, "steps")
    checks.positive_int(size, "size")
    if score not in ("logit", "log_probability"):
        raise ValueError(f"score must be 'logit' or 'log_probability', got {score!r}.")
    checks.non_negative(total_variation, "total_variation")
    if start is not None:
        checks.images(start, "start")
        if start.shape[:2] != (len(classes), 3):
            raise ValueError(f"start must hold one RGB image per class, ({len(classes)}, 3, H, W); "
                             f"got {tuple(start.shape)}.")
        if start.min() < 0 or start.max() > 1:
            raise ValueError("start images must have pixels in [0, 1] (the model's input range).")
    checks.positive(step_size, "step_size")
    checks.non_negative(l2, "l2")
    if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
        raise ValueError(f"jitter must be a whole number of pixels, 0 or more, got {jitter!r}.")
    checks.targets(list(classes), len(classes), "classes")
    if dtype is not None and not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point type such as torch.float64, got {dtype}.")


def _start_image(start: Optional[torch.Tensor], count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """The caller's start images, or neutral grey with a little noise that breaks the symmetry.

    The noise is drawn in float32 whatever the optimisation's dtype, so that every dtype starts
    from the same image, and by :func:`xaihelpers.repro.gaussian`, so that every CPU does: the
    optimisation amplifies any difference of the start."""
    if start is not None:
        return start.detach().clone()
    noise = repro.gaussian((count, 3, size, size), generator) * 0.01
    return torch.full((count, 3, size, size), NEUTRAL) + noise


def _logits_and_gradient(model, image, shift, target, score, l2, total_variation, *, need_gradient, per_pass,
                         check_classes=False):
    """The logits of the (shifted) images and the gradient of the objective with respect to them,
    ``per_pass`` images at a time; the objective is a sum of one term per image."""
    logits, gradients = [], []
    for start in range(0, len(image), per_pass):
        part = image[start: start + per_pass].detach().requires_grad_(need_gradient)
        rows, classes = torch.arange(len(part), device=part.device), target[start: start + per_pass]
        with torch.set_grad_enabled(need_gradient):
            part_logits = model(torch.roll(part, shifts=shift, dims=(-2, -1)))
        if check_classes and start == 0:
            checks.targets(target, len(target), "classes", classes=part_logits.shape[1])
        logits.append(part_logits.detach())
        if not need_gradient:
            continue
        maximised = part_logits[rows, classes] if score == "logit" else part_logits.log_softmax(dim=1)[rows, classes]
        objective = maximised.sum() - l2 * (part - NEUTRAL).pow(2).sum()
        if total_variation:
            # The squared differences (Mahendran and Vedaldi's beta = 2): the absolute value's
            # gradient is a sign, whose normalised steps add pixel-level noise instead of removing it.
            variation = ((part[..., 1:, :] - part[..., :-1, :]).pow(2).mean(dim=(1, 2, 3))
                         + (part[..., :, 1:] - part[..., :, :-1]).pow(2).mean(dim=(1, 2, 3)))
            objective = objective - total_variation * part[0].numel() * variation.sum()
        (gradient,) = torch.autograd.grad(objective, part)
        gradients.append(gradient)
    return torch.cat(logits), (torch.cat(gradients) if need_gradient else None)


def for_display(images: torch.Tensor, percentile: float = 1.0) -> torch.Tensor:
    """Stretch each image's contrast to [0, 1] between two percentiles, (N, H, W, 3) for imshow.

    Optimised images stay close to the neutral grey (the L2 penalty sees to it); stretching, as
    Simonyan et al. do for their figures, makes their structure visible.
    """
    flat = images.flatten(1)
    low = torch.quantile(flat, percentile / 100, dim=1)[:, None, None, None]
    high = torch.quantile(flat, 1 - percentile / 100, dim=1)[:, None, None, None]
    return ((images - low) / (high - low).clamp_min(1e-12)).clamp(0, 1).permute(0, 2, 3, 1)

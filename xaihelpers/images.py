"""Loading images as RGB: every odd input is either converted or refused with its name."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO, Union

from PIL import Image, ImageFile, UnidentifiedImageError

ImageSource = Union[str, Path, bytes, BinaryIO, Image.Image]

#: Images larger than this (pixels) are refused before decoding: a guard against decompression bombs.
MAX_PIXELS = 100_000_000


class ImageLoadError(ValueError):
    """An input could not be read as an image; the message names the input and the reason."""


def _describe(source: ImageSource) -> str:
    if isinstance(source, (str, Path)):
        return f"'{source}'"
    if isinstance(source, Image.Image):
        return f"PIL image ({source.mode}, {source.size[0]}x{source.size[1]})"
    name = getattr(source, "name", None)
    return f"'{name}'" if name else f"the given {type(source).__name__}"


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparent pixels are composited over white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float grayscale (e.g. microscope TIFFs): rescale the range to 8 bits first.
        gray = image.convert("F")
        low, high = gray.getextrema()
        scale = 255.0 / (high - low) if high > low else 0.0
        return gray.point(lambda value: (value - low) * scale).convert("L").convert("RGB")
    return image.convert("RGB")


def load_rgb(source: ImageSource) -> Image.Image:
    """Open an image from a path, bytes, a file object or a PIL image, and return it as RGB.

    Grayscale, palette, CMYK, 16-bit and RGBA images are converted (transparency over white), so
    every model of the book can take the result. The format is found from the content, not the file
    name: the pollen set, for example, holds TIFF data behind ``.jpg`` names.

    Args:
        source: A file path, the raw bytes of an image file, a binary file object, or a PIL image.

    Returns:
        A fully decoded RGB ``PIL.Image.Image``.

    Raises:
        FileNotFoundError: If a path does not exist.
        ImageLoadError: If the input is not an image, is truncated or corrupt, or is too large.
    """
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise FileNotFoundError(f"No image file at {_describe(source)}.")
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    previous_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never half an image
    try:
        with Image.open(stream) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageLoadError(
                    f"{_describe(source)} is {width}x{height} pixels, more than the {MAX_PIXELS:,} "
                    "this book accepts; resize it before loading."
                )
            image.load()
            return _to_rgb(image)
    except UnidentifiedImageError as error:
        raise ImageLoadError(
            f"{_describe(source)} is not an image file that PIL can read (PNG, JPEG, TIFF, ...)."
        ) from error
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageLoadError(f"{_describe(source)} could not be decoded: {error}.") from error
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous_truncated

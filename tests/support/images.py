"""Small real images for photo uploads."""

from __future__ import annotations

import io
import random
import uuid

from PIL import Image, ImageDraw, ImageFilter


def image(
    colour: tuple[int, int, int] | None = None, size: tuple[int, int] = (64, 48), kind: str = "JPEG"
) -> bytes:
    """An image of one colour (a random one unless given, so that each photo is new)."""
    if colour is None:
        raw = uuid.uuid4().bytes
        colour = (raw[0], raw[1], raw[2])
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


def jpeg(width: int = 64, height: int = 48, colour: tuple[int, int, int] | None = None) -> bytes:
    """A JPEG of that size."""
    return image(colour, (width, height))


def big_jpeg(megabytes: float) -> bytes:
    """A valid JPEG padded past ``megabytes`` (bytes after the end marker are ignored)."""
    head = image()
    return head + b"\0" * (int(megabytes * 1024 * 1024) - len(head) + 1)


def photo_like(seed: int, size: tuple[int, int] = (1200, 800)) -> Image.Image:
    """A photo-like picture: a gradient sky, shapes and noise, different for each seed."""
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        radius = rng.randrange(30, 250)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        else:
            draw.rectangle((x - radius, y - radius // 2, x + radius, y + radius // 2), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(2))


def photo_like_jpeg(seed: int) -> bytes:
    """photo_like as JPEG bytes, the same for the same seed."""
    out = io.BytesIO()
    photo_like(seed, (640, 480)).save(out, format="JPEG", quality=90)
    return out.getvalue()

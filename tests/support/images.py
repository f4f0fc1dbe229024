"""Small real images for photo uploads."""

from __future__ import annotations

import io
import uuid

from PIL import Image


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

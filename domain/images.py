"""Photos as stored: re-encoded without any metadata, and their perceptual hash.

Everything stored or relayed must be free of EXIF, XMP, IPTC and ICC data (a phone's photo
carries the GPS position it was taken at). Re-encoding the pixels is the only dependable way:
stripping known blocks leaves the unknown ones. The orientation EXIF asked for is applied to the
pixels first, so the photo still stands the right way up without its EXIF.

``perceptual_hash`` (imagehash's pHash, 64 bits) survives resizing and recompression; two
photos whose hashes differ in at most ``SAME_PHOTO_DISTANCE`` bits are taken for the same
photo. Measured on resized (down to a third) and recompressed (quality 40) copies the distance
stays at 0-4 bits, while unrelated photos differ in about 32 (half the bits); 8 leaves a margin
on both sides, as imagehash's authors suggest for pHash. An image of (nearly) one colour has
no hash: pHash gives every flat image the same one, which would make all of them "the same".
"""

from __future__ import annotations

import io
from typing import Final

import imagehash
from PIL import Image, ImageOps, ImageStat

JPEG_QUALITY: Final = 88
MAX_SIDE: Final = 2560  # Telegram's largest photo size; larger is only bytes
SAME_PHOTO_DISTANCE: Final = 8
# Below this standard deviation of grey levels (0-255, at 32x32) an image is taken as flat.
MIN_DETAIL: Final = 3.0


def clean_jpeg(data: bytes) -> bytes:
    """The photo in ``data`` (any format Pillow reads) as a JPEG without any metadata, turned
    the way its EXIF orientation says, at most ``MAX_SIDE`` pixels on its longer side."""
    with Image.open(io.BytesIO(data)) as original:
        upright = ImageOps.exif_transpose(original)
        pixels = upright.convert("RGB")
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    # A fresh image from the raw pixels carries nothing over: no info dict, no ICC profile.
    bare = Image.frombytes("RGB", pixels.size, pixels.tobytes())
    out = io.BytesIO()
    bare.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def perceptual_hash(data: bytes) -> int | None:
    """The 64-bit perceptual hash of the photo in ``data``, as a signed integer (a bigint);
    None for an image of nearly one colour (nothing to recognise it by)."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        if ImageStat.Stat(upright.convert("L").resize((32, 32))).stddev[0] < MIN_DETAIL:
            return None
        value = int(str(imagehash.phash(upright)), 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def hash_distance(first: int, second: int) -> int:
    """How many of the 64 bits two perceptual hashes differ in."""
    return ((first ^ second) & ((1 << 64) - 1)).bit_count()


def same_photo(first: int, second: int) -> bool:
    """Whether two perceptual hashes are taken for the same photo."""
    return hash_distance(first, second) <= SAME_PHOTO_DISTANCE

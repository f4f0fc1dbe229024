"""Metadata stripping and perceptual hashes of photos (domain.images)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

from domain.images import clean_jpeg, hash_distance, perceptual_hash, same_photo

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _photo(seed: int, size: tuple[int, int] = (1200, 800)) -> Image.Image:
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


def _jpeg(image: Image.Image, *, quality: int = 92, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, exif=exif if exif is not None else b"")
    return out.getvalue()


def _exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (55.0, 45.0, 20.9)
    gps[3] = "E"
    gps[4] = (37.0, 37.0, 3.0)
    return exif


def test_gps_exif_is_gone_after_cleaning() -> None:
    """A JPEG carrying a GPS block comes out with no EXIF, no GPS and no other metadata."""
    original = _jpeg(_photo(1), exif=_exif_with_gps())
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(GPS_IFD), "the fixture must carry GPS"
    cleaned = clean_jpeg(original)
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert not image.getexif().get_ifd(GPS_IFD)
        assert "exif" not in image.info and "icc_profile" not in image.info
    assert b"Exif" not in cleaned and b"PhoneMaker" not in cleaned


def test_orientation_is_applied_to_the_pixels() -> None:
    """A photo EXIF says to turn 90 degrees is stored turned, so it still stands upright."""
    original = _jpeg(_photo(2, (600, 400)), exif=_exif_with_gps(orientation=6))
    with Image.open(io.BytesIO(clean_jpeg(original))) as image:
        assert image.size == (400, 600)


def test_cleaned_photo_keeps_its_look_and_is_bounded() -> None:
    """Re-encoding keeps the same picture (same perceptual hash) and caps huge photos."""
    original = _jpeg(_photo(3, (4000, 3000)))
    cleaned = clean_jpeg(original)
    with Image.open(io.BytesIO(cleaned)) as image:
        assert max(image.size) == 2560
    assert same_photo(perceptual_hash(original), perceptual_hash(cleaned))


def test_a_resized_recompressed_copy_matches_and_other_photos_do_not() -> None:
    """A copy shrunk to a third and recompressed hard is the same photo; different ones are not."""
    photos = [_photo(seed) for seed in range(10, 16)]
    hashes = [perceptual_hash(_jpeg(photo)) for photo in photos]
    for photo, original_hash in zip(photos, hashes, strict=True):
        copy = photo.resize((photo.width // 3, photo.height // 3))
        copy_hash = perceptual_hash(_jpeg(copy, quality=40))
        print(f"copy distance {hash_distance(original_hash, copy_hash)}", end="; ")
        assert same_photo(original_hash, copy_hash)
    for index, first in enumerate(hashes):
        for second in hashes[index + 1 :]:
            assert not same_photo(first, second), hash_distance(first, second)


def test_hash_fits_a_signed_bigint() -> None:
    """The hash is stored in a bigint column: it stays within its range."""
    value = perceptual_hash(_jpeg(_photo(4)))
    assert -(1 << 63) <= value < 1 << 63
    assert hash_distance(value, value) == 0

"""Metadata stripping and perceptual hashes of photos (domain.images)."""

from __future__ import annotations

import io

from PIL import Image

from domain.images import clean_jpeg, hash_distance, perceptual_hash, same_photo
from tests.support.images import photo_like

GPS_IFD = 0x8825
ORIENTATION = 0x0112


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
    original = _jpeg(photo_like(1), exif=_exif_with_gps())
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
    original = _jpeg(photo_like(2, (600, 400)), exif=_exif_with_gps(orientation=6))
    with Image.open(io.BytesIO(clean_jpeg(original))) as image:
        assert image.size == (400, 600)


def test_cleaned_photo_keeps_its_look_and_is_bounded() -> None:
    """Re-encoding keeps the same picture (same perceptual hash) and caps huge photos."""
    original = _jpeg(photo_like(3, (4000, 3000)))
    cleaned = clean_jpeg(original)
    with Image.open(io.BytesIO(cleaned)) as image:
        assert max(image.size) == 2560
    assert same_photo(_hash(original), _hash(cleaned))


def test_a_resized_recompressed_copy_matches_and_other_photos_do_not() -> None:
    """A copy shrunk to a third and recompressed hard is the same photo; different ones are not."""
    photos = [photo_like(seed) for seed in range(10, 16)]
    hashes = [_hash(_jpeg(photo)) for photo in photos]
    for photo, original_hash in zip(photos, hashes, strict=True):
        copy = photo.resize((photo.width // 3, photo.height // 3))
        copy_hash = _hash(_jpeg(copy, quality=40))
        print(f"copy distance {hash_distance(original_hash, copy_hash)}", end="; ")
        assert same_photo(original_hash, copy_hash)
    for index, first in enumerate(hashes):
        for second in hashes[index + 1 :]:
            assert not same_photo(first, second), hash_distance(first, second)


def test_hash_fits_a_signed_bigint() -> None:
    """The hash is stored in a bigint column: it stays within its range."""
    value = _hash(_jpeg(photo_like(4)))
    assert -(1 << 63) <= value < 1 << 63
    assert hash_distance(value, value) == 0


def _hash(data: bytes) -> int:
    value = perceptual_hash(data)
    assert value is not None
    return value


def test_a_flat_image_has_no_hash() -> None:
    """Images of one colour all get the same pHash: they get none, so none is "the same"."""
    for colour in ((10, 20, 30), (200, 100, 50)):
        flat = io.BytesIO()
        Image.new("RGB", (64, 48), colour).save(flat, format="JPEG")
        assert perceptual_hash(flat.getvalue()) is None
    assert perceptual_hash(_jpeg(photo_like(5))) is not None

"""Validation of what users type and send while building a profile."""

from __future__ import annotations

import pytest

from domain.interests import INTERESTS
from domain.validation import (
    ABOUT_MAX,
    PHOTO_MAX_BYTES,
    Invalid,
    choose_interest,
    city_key,
    default_age_range,
    sniff_image_type,
    validate_about,
    validate_age,
    validate_age_range,
    validate_city,
    validate_location,
    validate_name,
    validate_photo_upload,
)


def reason(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(Invalid) as invalid:
        call(*args)
    return invalid.value.key


class TestName:
    def test_tidies_spaces(self) -> None:
        """Extra spaces around and inside a name are folded."""
        assert validate_name("  Anna   Maria ") == "Anna Maria"

    @pytest.mark.parametrize("name", ["Jean-Luc", "O'Neil", "Ёлка", "Мария Петровна"])
    def test_accepts_real_names(self, name: str) -> None:
        """Hyphens, apostrophes and Cyrillic are fine."""
        assert validate_name(name) == name

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("", "errors.name_length"),
            ("   ", "errors.name_length"),
            ("x" * 65, "errors.name_length"),
            ("R2D2", "errors.name_chars"),
            ("http://spam", "errors.name_chars"),
            ("😀", "errors.name_chars"),
        ],
    )
    def test_refuses(self, text: str, key: str) -> None:
        """Empty, too long, digits, links and emoji are refused with the matching reason."""
        assert reason(validate_name, text) == key


class TestAge:
    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("abc", "errors.age_not_number"),
            ("25.5", "errors.age_not_number"),
            ("-20", "errors.age_not_number"),
            ("", "errors.age_not_number"),
            ("17", "errors.age_too_young"),
            ("0", "errors.age_too_young"),
            ("101", "errors.age_too_old"),
            ("99999999", "errors.age_not_number"),
        ],
    )
    def test_refuses(self, text: str, key: str) -> None:
        """Non-numbers, minors and impossible ages are refused with the matching reason."""
        assert reason(validate_age, text) == key

    def test_bounds_are_inclusive(self) -> None:
        """18 and 100 are both allowed."""
        assert validate_age(" 18 ") == 18 and validate_age("100") == 100

    def test_default_range_is_clipped(self) -> None:
        """The suggested range centres on the age and stays within 18-100."""
        assert default_age_range(19) == (18, 24)
        assert default_age_range(30) == (25, 35)
        assert default_age_range(99) == (94, 100)


class TestAgeRange:
    @pytest.mark.parametrize("text", ["20-30", "20 - 30", "20–30", "20 30", "20 to 30", "20 до 30"])
    def test_accepts_common_spellings(self, text: str) -> None:
        """Hyphens, dashes, spaces and words between two ages all work."""
        assert validate_age_range(text, 25) == (20, 30)

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("twenty", "errors.range_format"),
            ("20", "errors.range_format"),
            ("10-30", "errors.range_bounds"),
            ("20-130", "errors.range_bounds"),
            ("40-30", "errors.range_order"),
        ],
    )
    def test_refuses(self, text: str, key: str) -> None:
        """Malformed, out-of-bounds and reversed ranges are refused."""
        assert reason(validate_age_range, text, 25) == key


class TestPlace:
    def test_city_key_ignores_case_and_yo(self) -> None:
        """'Орёл' and 'орел' match as the same city."""
        assert validate_city("Орёл")[1] == validate_city("орел")[1] == city_key("ОРЕЛ")

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("A", "errors.city_length"),
            ("x" * 65, "errors.city_length"),
            ("12345", "errors.city_chars"),
            ("<script>", "errors.city_chars"),
        ],
    )
    def test_refuses(self, text: str, key: str) -> None:
        """Too short, too long, digits and markup are refused."""
        assert reason(validate_city, text) == key

    def test_accepts_multiword_cities(self) -> None:
        """Cities with spaces, dots and hyphens are kept as typed."""
        assert validate_city("St. Petersburg")[0] == "St. Petersburg"
        assert validate_city("Ростов-на-Дону")[0] == "Ростов-на-Дону"

    def test_location_bounds(self) -> None:
        """Coordinates outside the globe are refused."""
        assert validate_location(55.75, 37.61) == (55.75, 37.61)
        assert reason(validate_location, 91.0, 0.0) == "errors.location_invalid"


class TestAbout:
    def test_limit(self) -> None:
        """About may be up to 1000 characters, and says how long it was when over."""
        assert validate_about("x" * ABOUT_MAX) == "x" * ABOUT_MAX
        with pytest.raises(Invalid) as invalid:
            validate_about("x" * (ABOUT_MAX + 1))
        assert invalid.value.params == {"length": ABOUT_MAX + 1, "limit": ABOUT_MAX}


class TestPhotos:
    def test_refusals(self) -> None:
        """Non-images, images over 10 MB and a fourth photo are refused."""
        assert reason(validate_photo_upload, "application/pdf", 10, 0) == "errors.photo_not_image"
        assert reason(validate_photo_upload, "image/jpeg", PHOTO_MAX_BYTES + 1, 0) == (
            "errors.photo_too_large"
        )
        assert reason(validate_photo_upload, "image/jpeg", 10, 3) == "errors.photo_limit"
        validate_photo_upload("image/png", PHOTO_MAX_BYTES, 2)

    def test_sniffing_trusts_bytes_not_claims(self) -> None:
        """The image type comes from magic bytes; anything else is not an image."""
        assert sniff_image_type(b"\xff\xd8\xff\xe0....") == "image/jpeg"
        assert sniff_image_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
        assert sniff_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
        assert sniff_image_type(b"%PDF-1.7") is None


class TestInterests:
    def test_ticking_and_unticking(self) -> None:
        """Ticking adds, unticking removes; each pressed twice leaves it as pressed once."""
        chosen = choose_interest((), "music", True, INTERESTS, 10)
        assert chosen == ("music",)
        assert choose_interest(chosen, "music", True, INTERESTS, 10) == ("music",)
        assert choose_interest(chosen, "music", False, INTERESTS, 10) == ()
        assert choose_interest((), "music", False, INTERESTS, 10) == ()

    def test_limit_and_unknown(self) -> None:
        """An eleventh interest and an unknown one are refused; one already ticked is not."""
        full = INTERESTS[:10]
        assert reason(choose_interest, full, INTERESTS[10], True, INTERESTS, 10) == (
            "errors.interests_limit"
        )
        assert choose_interest(full, full[0], True, INTERESTS, 10) == full
        assert choose_interest(full, full[0], False, INTERESTS, 10) == full[1:]
        assert reason(choose_interest, (), "smoking", True, INTERESTS, 10) == (
            "common.outdated_button"
        )

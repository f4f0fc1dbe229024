"""Entity parsing and photo sizes: the pure parts of the sandbox."""

from __future__ import annotations

import pytest

from sandbox.formatting import EntityParseError, command_entities, render, utf16_len
from sandbox.media import make_photo_sizes
from tests.support.images import jpeg


class TestHtml:
    def test_offsets_count_utf16_units(self) -> None:
        """An emoji before a tag counts as two units, as Telegram counts offsets."""
        text, entities = render("💜 <b>жирный</b>", "HTML")
        assert text == "💜 жирный"
        assert entities == [{"type": "bold", "offset": 3, "length": 6}]

    def test_links_nesting_and_escapes(self) -> None:
        """Nested tags, links and &-escapes all come out right."""
        text, entities = render('<a href="https://t.me/x">t <i>me</i></a> &amp; &#33;', "html")
        assert text == "t me & !"
        assert {"type": "text_link", "url": "https://t.me/x", "offset": 0, "length": 4} in entities
        assert {"type": "italic", "offset": 2, "length": 2} in entities

    @pytest.mark.parametrize(
        "source", ["<b>open", "a < b", "<script>x</script>", "<b><i>x</b></i>", "<span>x</span>"]
    )
    def test_bad_markup_is_refused(self, source: str) -> None:
        """Unclosed, unknown or crossed tags are refused like Telegram does."""
        with pytest.raises(EntityParseError):
            render(source, "HTML")


class TestMarkdown:
    def test_markdown_v2_entities_and_escapes(self) -> None:
        """MarkdownV2 markers become entities; escaped reserved characters are plain."""
        text, entities = render(r"*Имя:* _Алиса_, 25 лет\. [профиль](https://t.me/a)", "MarkdownV2")
        assert text == "Имя: Алиса, 25 лет. профиль"
        assert [e["type"] for e in entities] == ["bold", "italic", "text_link"]

    def test_markdown_v2_reserved_character(self) -> None:
        """An unescaped "." is refused with Telegram's wording."""
        with pytest.raises(EntityParseError, match=r"Character '\.' is reserved"):
            render("Готово.", "MarkdownV2")

    def test_legacy_markdown(self) -> None:
        """Legacy Markdown handles bold, italic and code."""
        text, entities = render("*a* _b_ `c`", "Markdown")
        assert text == "a b c"
        assert [e["type"] for e in entities] == ["bold", "italic", "code"]


class TestPlain:
    def test_commands_and_trimming(self) -> None:
        """Commands get entities; surrounding whitespace is trimmed."""
        assert command_entities("/start@sandbox_dating_bot x /help") == [
            {"type": "bot_command", "offset": 0, "length": 25},
            {"type": "bot_command", "offset": 28, "length": 5},
        ]
        assert render("  hi  ", None) == ("hi", [])
        assert utf16_len("a😀") == 3


class TestPhotoSizes:
    def test_sizes_of_a_real_image(self) -> None:
        """A big JPEG gets 90/320/800 thumbnails and keeps the original last."""
        data = jpeg(1280, 720)
        sizes = make_photo_sizes(data)
        assert [(w, h) for _, w, h, _ in sizes] == [(90, 51), (320, 180), (800, 450), (1280, 720)]
        assert sizes[-1][0] == data

    def test_opaque_bytes_are_tolerated(self) -> None:
        """Bytes Pillow cannot read still make two sizes."""
        sizes = make_photo_sizes(b"not an image")
        assert len(sizes) == 2

"""Text entities the way Telegram computes them.

``parse_mode`` text is turned into plain text plus ``MessageEntity`` dicts (offsets in UTF-16
code units), and malformed markup is refused with Telegram's "can't parse entities" errors,
so a bot that interpolates a user's name into HTML without escaping it fails here as it would
in production. Plain text only gets ``bot_command`` entities. Every function is pure.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]

_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_HTML_TAG_NAME_RE = re.compile(r"\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)")
_HTML_ATTR_RE = re.compile(r"""([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD_TYPES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


class EntityParseError(ValueError):
    """Markup that Telegram would refuse; the message is Telegram's wording."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode())


def command_entities(text: str) -> list[Entity]:
    """``bot_command`` entities for every ``/command`` that starts a word."""
    if "/" not in text:
        return []
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group()),
        }
        for m in _COMMAND_RE.finditer(text)
    ]


@dataclass(slots=True)
class _Open:
    name: str
    start: int
    entity: Entity | None
    index: int


def parse_html(src: str) -> tuple[str, list[Entity]]:  # noqa: PLR0915 - one scanner loop
    """Telegram's HTML style: supported tags become entities, others are refused."""
    if "<" not in src and "&" not in src:
        return src, []
    out: list[str] = []
    pos = 0
    stack: list[_Open] = []
    entities: list[Entity] = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == "<":
            end = src.find(">", i)
            if end < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            m = _HTML_TAG_NAME_RE.match(inner)
            if m is None:
                raise EntityParseError(
                    f'Unsupported start tag "{inner.strip()}" at byte offset {_byte_offset(src, i)}'
                )
            closing, name = m.group(1) == "/", m.group(2).lower()
            if closing:
                if not stack:
                    raise EntityParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(src, i)}"
                    )
                top = stack.pop()
                if top.name != name:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{top.name}>", found "</{name}>"'
                    )
                if top.entity is not None and pos > top.start:
                    top.entity["offset"] = top.start
                    top.entity["length"] = pos - top.start
                    entities.append(top.entity)
            else:
                if name not in _HTML_TAGS:
                    raise EntityParseError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}'
                    )
                attrs = {
                    a.group(1).lower(): html.unescape(a.group(2) or a.group(3) or a.group(4) or "")
                    for a in _HTML_ATTR_RE.finditer(inner, m.end())
                }
                entity: Entity | None = {"type": _HTML_TAGS[name]}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{_byte_offset(src, i)}"
                    )
                if name == "a":
                    href = attrs.get("href")
                    entity = {"type": "text_link", "url": href} if href else None
                elif name == "tg-emoji":
                    entity = {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
                elif name == "blockquote" and "expandable" in inner[m.end() :]:
                    entity = {"type": "expandable_blockquote"}
                elif name == "code" and stack and stack[-1].name == "pre":
                    language = attrs.get("class", "")
                    pre = stack[-1].entity
                    if language.startswith("language-") and pre is not None:
                        pre["language"] = language[len("language-") :]
                    entity = None
                stack.append(_Open(name, pos, entity, i))
            i = end + 1
        elif c == "&":
            em = _HTML_ENTITY_RE.match(src, i)
            if em is None:
                out.append("&")
                pos += 1
                i += 1
            else:
                chunk = html.unescape(em.group())
                out.append(chunk)
                pos += utf16_len(chunk)
                i = em.end()
        else:
            j = i + 1
            while j < n and src[j] != "<" and src[j] != "&":
                j += 1
            chunk = src[i:j]
            out.append(chunk)
            pos += utf16_len(chunk)
            i = j
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _md_type_name(marker: str) -> str:
    kind = _MD_TYPES.get(marker, "text_link")
    return {"text_link": "TextUrl", "strikethrough": "Strikethrough"}.get(kind, kind.capitalize())


def parse_markdown_v2(src: str) -> tuple[str, list[Entity]]:  # noqa: PLR0915 - one scanner
    """Telegram's MarkdownV2: reserved characters outside entities must be escaped."""
    out: list[str] = []
    pos = 0
    stack: list[_Open] = []
    entities: list[Entity] = []
    quote_start: int | None = None
    i = 0
    n = len(src)

    def emit(chunk: str) -> None:
        nonlocal pos
        out.append(chunk)
        pos += utf16_len(chunk)

    def close(open_: _Open, extra: Entity | None = None) -> None:
        if pos > open_.start:
            entity: Entity = {"type": _MD_TYPES.get(open_.name, "text_link")}
            if extra:
                entity.update(extra)
            entity["offset"] = open_.start
            entity["length"] = pos - open_.start
            entities.append(entity)

    while i < n:
        c = src[i]
        at_line_start = i == 0 or src[i - 1] == "\n"
        if c == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) < 127:
                emit(src[i + 1])
                i += 2
                continue
            raise EntityParseError(
                "Character '\\' is reserved and must be escaped with the preceding '\\'"
            )
        if c == "`":
            fence = "```" if src.startswith("```", i) else "`"
            j = i + len(fence)
            language = ""
            if fence == "```":
                newline = src.find("\n", j)
                first_line = src[j:newline] if newline >= 0 else ""
                if newline >= 0 and first_line and " " not in first_line:
                    language = first_line
                    j = newline + 1
            start = pos
            while True:
                if j >= n:
                    kind = "Pre" if fence == "```" else "Code"
                    raise EntityParseError(
                        f"Can't find end of {kind} entity at byte offset {_byte_offset(src, i)}"
                    )
                if src[j] == "\\" and j + 1 < n:
                    emit(src[j + 1])
                    j += 2
                    continue
                if src.startswith(fence, j):
                    break
                emit(src[j])
                j += 1
            if pos > start:
                entity: Entity = {"type": "pre" if fence == "```" else "code"}
                if language:
                    entity["language"] = language
                entity.update(offset=start, length=pos - start)
                entities.append(entity)
            i = j + len(fence)
            continue
        if c == ">" and at_line_start:
            if quote_start is None:
                quote_start = pos
            i += 1
            continue
        if c == "\n" and quote_start is not None and not src.startswith(">", i + 1):
            if pos > quote_start:
                entities.append(
                    {"type": "blockquote", "offset": quote_start, "length": pos - quote_start}
                )
            quote_start = None
        marker = ""
        if c == "_":
            marker = "__" if src.startswith("__", i) else "_"
        elif c in "*~":
            marker = c
        elif c == "|" and src.startswith("||", i):
            marker = "||"
        if marker:
            if stack and stack[-1].name == marker:
                close(stack.pop())
            elif any(o.name == marker for o in stack):
                top = stack[-1]
                raise EntityParseError(
                    f"Can't find end of {_md_type_name(top.name)} entity at byte offset "
                    f"{_byte_offset(src, top.index)}"
                )
            else:
                stack.append(_Open(marker, pos, None, i))
            i += len(marker)
            continue
        if c == "[":
            stack.append(_Open("[", pos, None, i))
            i += 1
            continue
        if c == "]" and stack and stack[-1].name == "[":
            if not src.startswith("(", i + 1):
                raise EntityParseError(
                    f"Can't find end of TextUrl entity at byte offset "
                    f"{_byte_offset(src, stack[-1].index)}"
                )
            j = i + 2
            url: list[str] = []
            while j < n and src[j] != ")":
                if src[j] == "\\" and j + 1 < n:
                    j += 1
                url.append(src[j])
                j += 1
            if j >= n:
                raise EntityParseError(
                    f"Can't find end of TextUrl entity at byte offset "
                    f"{_byte_offset(src, stack[-1].index)}"
                )
            close(stack.pop(), {"url": "".join(url)})
            i = j + 1
            continue
        if c in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        j = i + 1
        while j < n and src[j] not in _MDV2_RESERVED and src[j] not in "\\|\n":
            j += 1
        emit(src[i:j])
        i = j
    if stack:
        top = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_md_type_name(top.name)} entity at byte offset "
            f"{_byte_offset(src, top.index)}"
        )
    if quote_start is not None and pos > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start, "length": pos - quote_start})
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def parse_markdown(src: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: ``*bold*``, ``_italic_``, ``[text](url)``, code and pre."""
    out: list[str] = []
    pos = 0
    entities: list[Entity] = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.append(src[i + 1])
            pos += 1
            i += 2
            continue
        if c in "*_`[":
            fence = "```" if src.startswith("```", i) else c
            close_at = src.find("](" if c == "[" else fence, i + len(fence))
            if close_at < 0:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
                )
            inner = src[i + len(fence) : close_at]
            entity: Entity = {
                "*": {"type": "bold"},
                "_": {"type": "italic"},
                "`": {"type": "code"},
                "```": {"type": "pre"},
                "[": {"type": "text_link"},
            }[fence]
            end = close_at + len(fence)
            if c == "[":
                url_end = src.find(")", close_at + 2)
                if url_end < 0:
                    raise EntityParseError(
                        "Can't find end of the entity starting at byte offset "
                        f"{_byte_offset(src, i)}"
                    )
                entity["url"] = src[close_at + 2 : url_end]
                end = url_end + 1
            length = utf16_len(inner)
            if length:
                entity.update(offset=pos, length=length)
                entities.append(entity)
            out.append(inner)
            pos += length
            i = end
            continue
        j = i + 1
        while j < n and src[j] not in "*_`[\\":
            j += 1
        chunk = src[i:j]
        out.append(chunk)
        pos += utf16_len(chunk)
        i = j
    return "".join(out), entities


def _strip(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Telegram trims surrounding whitespace; entities are clipped to what is left."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def render(
    text: str, parse_mode: str | None, entities: list[Entity] | None = None
) -> tuple[str, list[Entity]]:
    """Plain text and entities for ``text`` as sent with ``parse_mode`` (or explicit entities).

    Raises EntityParseError for malformed markup and ValueError for an unknown parse mode.
    """
    mode = (parse_mode or "").lower()
    if entities is not None:
        parsed, found = text, [dict(e) for e in entities]
    elif not mode:
        parsed, found = text, command_entities(text)
    elif mode == "html":
        parsed, found = parse_html(text)
    elif mode == "markdownv2":
        parsed, found = parse_markdown_v2(text)
    elif mode == "markdown":
        parsed, found = parse_markdown(text)
    else:
        raise ValueError(f'unsupported parse_mode "{parse_mode}"')
    return _strip(parsed, found)

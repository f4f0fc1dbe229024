"""Files held by the sandbox: opaque per-bot file_ids, stable file_unique_ids, photo sizes."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import mimetypes
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import FILE_TYPE_MISMATCH, WRONG_FILE_ID, ApiError

# What kind of file a file_id stands for; Telegram refuses to send one kind as another.
PHOTO = "photo"
DOCUMENT = "document"
STICKER = "sticker"
VOICE = "voice"
VIDEO_NOTE = "video_note"
VIDEO = "video"
AUDIO = "audio"
ANIMATION = "animation"

_FILE_ID_PREFIX = {
    PHOTO: "AgACAgIAAxkBAAI",
    DOCUMENT: "BQACAgIAAxkBAAI",
    STICKER: "CAACAgIAAxkBAAI",
    VOICE: "AwACAgIAAxkBAAI",
    VIDEO_NOTE: "DQACAgIAAxkBAAI",
    VIDEO: "BAACAgIAAxkBAAI",
    AUDIO: "CQACAgIAAxkBAAI",
    ANIMATION: "CgACAgIAAxkBAAI",
}
_FOLDER = {
    PHOTO: "photos",
    DOCUMENT: "documents",
    STICKER: "stickers",
    VOICE: "voice",
    VIDEO_NOTE: "video_notes",
    VIDEO: "videos",
    AUDIO: "music",
    ANIMATION: "animations",
}
_DEFAULT_EXT = {
    PHOTO: ".jpg",
    DOCUMENT: "",
    STICKER: ".webp",
    VOICE: ".oga",
    VIDEO_NOTE: ".mp4",
    VIDEO: ".mp4",
    AUDIO: ".mp3",
    ANIMATION: ".mp4",
}
DEFAULT_MIME = {
    VOICE: "audio/ogg",
    VIDEO: "video/mp4",
    AUDIO: "audio/mpeg",
    ANIMATION: "video/mp4",
    DOCUMENT: "application/octet-stream",
}
# Sizes Telegram makes for a photo: "s" 90, "m" 320, "x" 800 (the original is kept as well).
THUMBNAIL_SIDES = (90, 320, 800)
# Dimensions given to bytes that are not a decodable image (the sandbox tolerates them).
FALLBACK_SIZE = (512, 512)
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    owner: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 0
    height: int = 0
    duration: int = 0
    emoji: str | None = None
    # For a photo: the file_ids of all its sizes, smallest first (this file among them).
    group: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        return len(self.data)

    def photo_size(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width,
            "height": self.height,
            "file_size": self.size,
        }

    def file_object(self) -> dict[str, Any]:
        """The ``File`` object getFile answers."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


def unique_id_for(data: bytes, variant: str = "") -> str:
    digest = hashlib.blake2b(data, digest_size=12, person=variant.encode()[:16]).digest()
    return "AQAD" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_photo_sizes(data: bytes) -> list[tuple[bytes, int, int, str]]:
    """(bytes, width, height, variant) per size, smallest first, the original bytes last.

    Thread-safe and free of sandbox state: the server runs it off the event loop. Bytes that
    Pillow cannot read are tolerated (tests often send placeholder bytes) and get
    FALLBACK_SIZE dimensions, with the same bytes standing in for the thumbnail.
    """
    try:
        from PIL import Image  # noqa: PLC0415 - Pillow is only needed when photos arrive

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
            sizes: list[tuple[bytes, int, int, str]] = []
            for side in THUMBNAIL_SIDES:
                if max(width, height) <= side:
                    break
                with Image.open(io.BytesIO(data)) as image:
                    image.draft("RGB", (side, side))
                    thumb = image.convert("RGB")
                    thumb.thumbnail((side, side))
                    out = io.BytesIO()
                    thumb.save(out, "JPEG", quality=80)
                    sizes.append((out.getvalue(), thumb.width, thumb.height, f"s{side}"))
            if not sizes:
                with Image.open(io.BytesIO(data)) as image:
                    copy = image.convert("RGB")
                    out = io.BytesIO()
                    copy.save(out, "JPEG", quality=80)
                    sizes.append((out.getvalue(), copy.width, copy.height, "s"))
    except Exception:
        w, h = FALLBACK_SIZE
        return [(data, 90, 90, "fallback-s"), (data, w, h, "")]
    sizes.append((data, width, height, ""))
    return sizes


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height if ``data`` is an image Pillow can read (header only), else None."""
    try:
        from PIL import Image  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as probe:
                return int(probe.size[0]), int(probe.size[1])
    except Exception:
        return None


class FileStore:
    """Every file any bot or user has sent; file_ids are valid only for their own bot."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_content: dict[tuple[str, str, str], StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._serial = itertools.count(1)
        self._salt = os.urandom(4)

    def __len__(self) -> int:
        return len(self._by_id)

    def clear(self) -> None:
        self._by_id.clear()
        self._by_content.clear()
        self._by_path.clear()

    def _new_file_id(self, kind: str) -> str:
        raw = next(self._serial).to_bytes(6, "big") + self._salt + os.urandom(6)
        return _FILE_ID_PREFIX[kind] + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def add(
        self,
        owner: str,
        kind: str,
        data: bytes,
        *,
        variant: str = "",
        file_name: str | None = None,
        mime_type: str | None = None,
        **meta: Any,
    ) -> StoredFile:
        """Store ``data`` for bot ``owner``; the same bytes of the same kind reuse one file."""
        unique = unique_id_for(data, variant)
        key = (owner, kind, unique)
        existing = self._by_content.get(key)
        if existing is not None and existing.file_name == file_name:
            return existing
        file_id = self._new_file_id(kind)
        ext = os.path.splitext(file_name or "")[1] or (
            mimetypes.guess_extension(mime_type or "") or _DEFAULT_EXT[kind]
        )
        serial = file_id[-8:].replace("-", "x").replace("_", "y")
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique,
            kind=kind,
            data=data,
            file_path=f"{_FOLDER[kind]}/file_{len(self._by_id)}_{serial}{ext}",
            owner=owner,
            file_name=file_name,
            mime_type=mime_type,
            **meta,
        )
        self._by_id[file_id] = stored
        self._by_content[key] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def find_photo(self, owner: str, data: bytes) -> list[StoredFile] | None:
        """The sizes of a photo with these exact bytes this bot already has, if any."""
        original = self._by_content.get((owner, PHOTO, unique_id_for(data)))
        if original is None or not original.group:
            return None
        return [self._by_id[f] for f in original.group]

    def add_photo(self, owner: str, sizes: list[tuple[bytes, int, int, str]]) -> list[StoredFile]:
        files = [
            self.add(owner, PHOTO, data, variant=variant, width=w, height=h)
            for data, w, h, variant in sizes
        ]
        group = tuple(f.file_id for f in files)
        for f in files:
            f.group = group
        return files

    def get(self, owner: str | None, file_id: str) -> StoredFile:
        stored = self._by_id.get(file_id)
        if stored is None or (owner is not None and stored.owner != owner):
            raise ApiError(400, WRONG_FILE_ID)
        return stored

    def get_kind(self, owner: str, file_id: str, kind: str) -> StoredFile:
        stored = self.get(owner, file_id)
        if stored.kind != kind:
            raise ApiError(400, FILE_TYPE_MISMATCH)
        return stored

    def by_path(self, owner: str, file_path: str) -> StoredFile | None:
        stored = self._by_path.get(file_path)
        return stored if stored is not None and stored.owner == owner else None

    def photo_sizes(self, stored: StoredFile) -> list[dict[str, Any]]:
        ids = stored.group or (stored.file_id,)
        return [self._by_id[f].photo_size() for f in ids]

    def media_object(self, stored: StoredFile) -> dict[str, Any]:
        """The Telegram object (Document, Sticker, Voice, ...) describing ``stored``."""
        obj: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        kind = stored.kind
        if kind == DOCUMENT:
            if stored.file_name:
                obj["file_name"] = stored.file_name
            if stored.mime_type:
                obj["mime_type"] = stored.mime_type
        elif kind == STICKER:
            obj.update(
                type="regular",
                width=stored.width or 512,
                height=stored.height or 512,
                is_animated=False,
                is_video=False,
            )
            if stored.emoji:
                obj["emoji"] = stored.emoji
        elif kind == VOICE:
            obj.update(duration=stored.duration, mime_type=stored.mime_type or "audio/ogg")
        elif kind == VIDEO_NOTE:
            obj.update(duration=stored.duration, length=stored.width or 240)
        elif kind in (VIDEO, ANIMATION):
            obj.update(
                width=stored.width or 640,
                height=stored.height or 480,
                duration=stored.duration,
                mime_type=stored.mime_type or "video/mp4",
            )
            if stored.file_name:
                obj["file_name"] = stored.file_name
        elif kind == AUDIO:
            obj.update(duration=stored.duration, mime_type=stored.mime_type or "audio/mpeg")
            if stored.file_name:
                obj["file_name"] = stored.file_name
        return obj

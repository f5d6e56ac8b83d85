"""Files attached to tickets: which kinds are accepted, how big, and what a file must look like
inside to be the kind it claims (a renamed executable is not a PDF)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from callcenter.domain.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
ZIP = b"PK\x03\x04"
# media type -> (file name endings, how the content starts)
KINDS: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {
    "application/pdf": ((".pdf",), (b"%PDF-",)),
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ((".docx",), (ZIP,)),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ((".xlsx",), (ZIP,)),
    "text/plain": ((".txt",), ()),
}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


class AttachmentRefused(InvalidInput):
    """A file that may not be attached (kind, size, content); answered as invalid input."""


@dataclass(frozen=True, slots=True)
class Attachment:
    id: int
    ticket_id: int
    name: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str
    uploader_role: str
    department: str | None


def clean_name(name: str) -> str:
    """The file name shown to people: no path, no control characters, at most 120 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .")
    if not cleaned:
        raise AttachmentRefused("a file needs a name")
    stem, dot, ending = cleaned.rpartition(".")
    return cleaned[-120:] if not dot else f"{stem[: 119 - len(ending)]}.{ending}"


def check(name: str, media_type: str, data: bytes) -> str:
    """The cleaned name when the file may be attached; otherwise AttachmentRefused says why."""
    cleaned = clean_name(name)
    media_type = media_type.split(";", 1)[0].strip().lower()
    if media_type not in KINDS:
        raise AttachmentRefused(f"files of type {media_type or '(none)'} are not accepted")
    endings, starts = KINDS[media_type]
    if not cleaned.lower().endswith(endings):
        raise AttachmentRefused(f"a {media_type} file is named *{' or *'.join(endings)}")
    if not data:
        raise AttachmentRefused("the file is empty")
    if len(data) > MAX_BYTES:
        raise AttachmentRefused(f"a file may hold at most {MAX_BYTES // (1024 * 1024)} MiB")
    if starts and not data.startswith(starts):
        raise AttachmentRefused(f"the content of {cleaned} is not a {media_type} file")
    if media_type == "text/plain":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise AttachmentRefused("a text file must be UTF-8") from err
        if "\x00" in text:
            raise AttachmentRefused("a text file holds no NUL bytes")
    return cleaned

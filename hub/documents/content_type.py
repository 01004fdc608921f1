"""What a received file is, read from its bytes (magic numbers, then text), whatever its name says."""

from __future__ import annotations

import codecs
import io
import unicodedata
import zipfile


def detect_content_type(data: bytes) -> str:
    """The type the bytes are, whatever the name says (magic numbers, then text)."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    text = _as_text(data[:65536])
    if text is not None:
        if text.lstrip("\ufeff \t\r\n").startswith("<?xml"):
            return "application/xml"
        return "text/plain"
    return "application/octet-stream"


_OFFICE = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared.startswith("application/vnd.oasis.opendocument"):
                    return declared
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return "application/zip"
    if "[Content_Types].xml" in names:
        for prefix, content_type in _OFFICE.items():
            if any(n.startswith(prefix) for n in names):
                return content_type
    return "application/zip"


def _as_text(sample: bytes) -> str | None:
    # An incremental decoder: a multi-byte character cut at the end of the sample is not an error.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text):
        return None
    return text

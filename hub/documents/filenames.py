"""A received file's name made safe on every file system and in every partner's upload form."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath

from hub.errors import InvalidInput

MAX_NAME_LENGTH = 200

_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
# Characters Windows (and most partner systems) refuse in a file name.
_FORBIDDEN = re.compile(r'[<>:"|?*\\/]')


def sanitise_filename(name: str) -> str:
    """A name safe on every file system and in every partner's upload form, accents kept.

    Raises :class:`InvalidInput` when nothing usable is left.
    """
    # Browsers and mail clients sometimes send the whole client-side path.
    name = re.split(r"[\\/]", name)[-1]
    name = unicodedata.normalize("NFC", name)
    # Line breaks and tabs become spaces; other control and format characters (NUL, bidi
    # overrides that disguise an extension) go.
    name = "".join(
        " " if c.isspace() else c
        for c in name
        if c.isspace() or unicodedata.category(c) not in {"Cc", "Cf"}
    )
    name = _FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        raise InvalidInput("empty file name", field="filename", key="documents.bad_name")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    if len(name) > MAX_NAME_LENGTH:
        # Keep the extension: partners (and people) read the type from it.
        suffix = PurePath(name).suffix[:20]
        name = name[: MAX_NAME_LENGTH - len(suffix)].rstrip(" .") + suffix
    return name

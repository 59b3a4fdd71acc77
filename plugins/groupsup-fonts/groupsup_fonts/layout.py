"""The released folder layout: path names, their parsing, and file-system checks.

``<root>/<letter>/<size>/<font_color>/<back_color>/<font>/
<letter>_<size>_<font_color>_<back_color>_<font>.png``, e.g.
``A/medium/red/orange/dejavusans/A_medium_red_orange_dejavusans.png``.

'A' and 'a' are sibling folders, which merge on a case-insensitive file system (macOS and
Windows defaults). The *case-safe* naming writes a lower-case letter as ``lower-a`` in the
folder and file names, so no two names differ by case alone; the loader reads both namings.
"""

from __future__ import annotations

import os
import re
import struct
import uuid
import zlib
from pathlib import Path

import numpy as np

import groupsup as gs
from groupsup_fonts.schema import COLOUR_NAMES, LETTERS, SIZES

NAMINGS = ("plain", "case-safe")
LOWER_PREFIX = "lower-"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# The reference's spelling of one colour; any colour name is matched without regard to case.
_COLOUR_BY_KEY = {name.lower(): name for name in COLOUR_NAMES}
_FILE = re.compile(r"^(?P<letter>[^_/]+)_(?P<size>[^_/]+)_(?P<font_color>[^_/]+)_"
                   r"(?P<back_color>[^_/]+)_(?P<font>[^/]+)\.png$")
FIELDS = ("letter", "size", "font_color", "back_color", "font")


def letter_token(letter: str, naming: str = "plain") -> str:
    """How *letter* is spelled in folder and file names."""
    return LOWER_PREFIX + letter if naming == "case-safe" and letter.islower() else letter


def relative_path(letter: str, size: str, font_color: str, back_color: str, font: str,
                  naming: str = "plain") -> str:
    """The path of one image relative to the root (``/``-separated)."""
    token = letter_token(letter, naming)
    return (f"{token}/{size}/{font_color}/{back_color}/{font}/"
            f"{token}_{size}_{font_color}_{back_color}_{font}.png")


def parse_letter(token: str) -> str | None:
    """``"A"`` -> ``"A"``, ``"lower-a"`` -> ``"a"``; ``None`` when not a letter token."""
    if token.startswith(LOWER_PREFIX):
        letter = token[len(LOWER_PREFIX):]
        return letter if letter in LETTERS and letter.islower() else None
    return token if token in LETTERS else None


def parse_relative(parts: tuple[str, ...]) -> dict[str, str] | str:
    """Labels of one file from its path parts below the root, or the reason it is not one.

    Folder and file name must agree field by field; colours are matched without regard to
    case (the reference writes ``Yellow``) and returned in the schema's lower-case spelling.
    """
    if len(parts) != 6:
        return (f"expected <letter>/<size>/<font_color>/<back_color>/<font>/<file>.png, "
                f"found {len(parts) - 1} folder levels")
    match = _FILE.match(parts[5])
    if match is None:
        return "file name is not <letter>_<size>_<font_color>_<back_color>_<font>.png"
    for field, folder in zip(FIELDS, parts[:5]):
        if match.group(field) != folder:
            hint = ""
            if field == "letter" and folder.lower() == match.group(field).lower():
                hint = (" (the folders 'A' and 'a' were probably merged by a case-insensitive "
                        "file system; render with the case-safe naming there)")
            return (f"{field} folder {folder!r} does not match {match.group(field)!r} in the "
                    f"file name{hint}")
    letter = parse_letter(match.group("letter"))
    if letter is None:
        return f"letter {match.group('letter')!r} is not one of A–Z, a–z or lower-a..lower-z"
    record = {"letter": letter, "font": match.group("font")}
    if match.group("size") not in SIZES:
        return f"size {match.group('size')!r} is not one of {', '.join(SIZES)}"
    record["size"] = match.group("size")
    for field in ("font_color", "back_color"):
        colour = _COLOUR_BY_KEY.get(match.group(field).lower())
        if colour is None:
            return f"{field} {match.group(field)!r} is not one of {', '.join(COLOUR_NAMES)}"
        record[field] = colour
    if record["font_color"] == record["back_color"]:
        return f"font colour and background colour are both {record['font_color']!r}"
    return record


def png_problem(path: Path, image_size: int | None = None) -> str | None:
    """Cheap integrity check of a PNG file: signature, header size and end chunk.

    Returns ``None`` when the file looks complete, else what is wrong. It reads 36 bytes, so
    scanning a million files stays fast; decoding errors are still named on load.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
            handle.seek(0, os.SEEK_END)
            length = handle.tell()
            if length < len(PNG_SIGNATURE) + 25 + len(PNG_END):
                return f"truncated PNG ({length} bytes)"
            handle.seek(-len(PNG_END), os.SEEK_END)
            tail = handle.read()
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    if not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return "not a PNG file"
    if tail != PNG_END:
        return "truncated PNG (no end chunk)"
    if image_size is not None:
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        if (width, height) != (image_size, image_size):
            return f"image is {width}x{height}, expected {image_size}x{image_size}"
    return None


def case_insensitive(folder: Path) -> bool:
    """Whether names in *folder* (which must exist) are matched without regard to case."""
    probe = folder / f".groupsup-case-probe-{uuid.uuid4().hex}-Ab"
    probe.touch()
    try:
        return probe.with_name(probe.name.swapcase()).exists()
    finally:
        probe.unlink()


def check_case_safe(folder: Path, letters: tuple[str, ...], naming: str) -> None:
    """Refuse to write 'A' and 'a' as sibling folders where they would merge."""
    both = [c for c in letters if c.islower() and c.upper() in letters]
    if naming == "plain" and both and case_insensitive(folder):
        raise gs.DataError(
            f"{folder} is on a case-insensitive file system, where the folders "
            f"'{both[0].upper()}' and '{both[0]}' would merge; render with the case-safe "
            f"naming (--case-safe: lower-case letters become '{LOWER_PREFIX}{both[0]}'), "
            "choose a case-sensitive folder, or use the store layout")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: np.ndarray) -> bytes:
    """uint8 ``(H, W, 3)`` -> PNG bytes (8-bit RGB, no row filter, zlib level 6).

    A minimal encoder: several times faster than a Pillow save for small images, and its bytes
    depend only on zlib, so renders are byte-identical across Pillow versions.
    """
    height, width, _ = image.shape
    rows = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # a 0 "no filter" byte per row
    rows[:, 1:] = image.reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _png_chunk(b"IEND", b""))


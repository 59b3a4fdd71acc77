"""iLab-20M file and folder names.

An image is named by '-'-separated fields::

    boat-i0001-b0001-c00-r01-l0-f2.jpg
    category, instance, background, camera, rotation, then lighting / focus fields

and lives in the folder of its pose, ``c<camera>_r<rotation>`` (``c00_r01``). Instance numbers
restart in every category, so an object's identity is the pair (category, instance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSE_FOLDER = re.compile(r"^(c\d+)_(r\d+)$")
NAME_FORMAT = "<category>-i<NNNN>-b<NNNN>-c<NN>-r<NN>[-<lighting>-<focus>...]"
_CATEGORY = re.compile(r"^[A-Za-z0-9]+$")
_FIELDS: tuple[tuple[str, str, str], ...] = (
    # (field, pattern, what a valid one looks like)
    ("instance", r"^i\d+$", "an instance id iNNNN"),
    ("background", r"^b\d+$", "a background id bNNNN"),
    ("camera", r"^c\d+$", "a camera id cNN"),
    ("rotation", r"^r\d+$", "a rotation id rNN"),
)


@dataclass(frozen=True)
class ImageName:
    """The fields of one iLab-20M file name (the extension dropped)."""

    category: str
    instance: str
    background: str
    camera: str
    rotation: str
    rest: tuple[str, ...] = ()

    @property
    def identity(self) -> str:
        """The object: ``"<category>-<instance>"``, e.g. ``"boat-i0001"``."""
        return f"{self.category}-{self.instance}"

    @property
    def pose_folder(self) -> str:
        return f"{self.camera}_{self.rotation}"


def parse_name(stem: str) -> ImageName:
    """Split a file name without extension into its fields.

    Raises ``ValueError`` saying which field (1-based) is wrong and why.
    """
    fields = stem.split("-")
    if len(fields) < 5:
        raise ValueError(f"has {len(fields)} '-'-separated field(s), expected at least 5: "
                         f"{NAME_FORMAT}")
    for number, field in enumerate(fields, start=1):
        if not field:
            raise ValueError(f"field {number} is empty ('--' or a '-' at an end)")
    if not _CATEGORY.match(fields[0]):
        raise ValueError(f"field 1 (category) {fields[0]!r} is not a category name (letters "
                         f"and digits, e.g. 'boat')")
    for number, ((name, pattern, looks_like), field) in enumerate(zip(_FIELDS, fields[1:5]),
                                                                  start=2):
        if not re.match(pattern, field):
            raise ValueError(f"field {number} ({name}) {field!r} is not {looks_like}")
    return ImageName(*fields[:5], rest=tuple(fields[5:]))

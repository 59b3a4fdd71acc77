"""RaFD (Radboud Faces Database) file names.

Every image is named ``Rafd<POSE>_<ID>_<ethnicity>_<gender>_<expression>_<gaze>.jpg``, e.g.
``Rafd090_01_Caucasian_female_happy_frontal.jpg``: camera angle 000 045 090 135 180 (090 is
frontal), a model number, then the model's ethnicity and gender, the expression and the gaze.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSES: tuple[str, ...] = ("000", "045", "090", "135", "180")
EXPRESSIONS: tuple[str, ...] = ("angry", "contemptuous", "disgusted", "fearful", "happy",
                                "neutral", "sad", "surprised")
GAZES: tuple[str, ...] = ("frontal", "left", "right")
GENDERS: tuple[str, ...] = ("female", "male")
NAME_FORMAT = "Rafd<POSE>_<ID>_<ethnicity>_<gender>_<expression>_<gaze>"


@dataclass(frozen=True)
class FaceName:
    """The fields of one RaFD file name (the extension dropped)."""

    pose: str
    identity: str
    ethnicity: str
    gender: str
    expression: str
    gaze: str


def _one_of(number: int, field: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"field {number} ({field}) {value!r} is not one of {list(choices)}")


def parse_name(stem: str) -> FaceName:
    """Split a file name without extension into its fields.

    Raises ``ValueError`` saying which field (1-based) is wrong and why.
    """
    fields = stem.split("_")
    if len(fields) != 6:
        raise ValueError(f"has {len(fields)} '_'-separated field(s), expected 6: {NAME_FORMAT}")
    head, identity, ethnicity, gender, expression, gaze = fields
    match = re.fullmatch(r"Rafd(\d{3})", head)
    if match is None:
        raise ValueError(f"field 1 {head!r} is not 'Rafd' and a 3-digit camera angle "
                         f"(e.g. Rafd090)")
    _one_of(1, "camera angle", match.group(1), POSES)
    if not re.fullmatch(r"\d+", identity):
        raise ValueError(f"field 2 (model id) {identity!r} is not a number")
    if not re.fullmatch(r"[A-Za-z]+", ethnicity):
        raise ValueError(f"field 3 (ethnicity) {ethnicity!r} is not a word (e.g. Caucasian)")
    _one_of(4, "gender", gender, GENDERS)
    _one_of(5, "expression", expression, EXPRESSIONS)
    _one_of(6, "gaze", gaze, GAZES)
    return FaceName(match.group(1), identity, ethnicity, gender, expression, gaze)

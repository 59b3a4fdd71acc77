"""The Fonts schema: letter, size, font colour, background colour and font.

Vocabularies follow the paper (docs/method.md §4): 52 letters (A–Z then a–z), three sizes, ten
named colours with the spec's RGB values, and the fonts found on the machine (discovered).
Colour names are lower case throughout; the reference spells one of them ``Yellow``, which the
folder loader accepts as an alias of ``yellow``.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping, Sequence

import groupsup as gs

LETTERS: tuple[str, ...] = tuple(string.ascii_uppercase + string.ascii_lowercase)
SIZES: tuple[str, ...] = ("small", "medium", "large")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 20, 60),
    "orange": (255, 165, 0),
    "yellow": (255, 255, 0),
    "green": (0, 128, 0),
    "cyan": (0, 255, 255),
    "blue": (0, 0, 255),
    "purple": (128, 0, 128),
    "pink": (255, 192, 203),
    "chocolate": (210, 105, 30),
    "silver": (192, 192, 192),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
DEFAULT_LATENT = 20


class FontsSchema(gs.Schema):
    """The five Fonts attributes, 20 latent dimensions each (the paper's partition of z = 100).

    ``font`` has no fixed vocabulary: it is the set of fonts a render used. Use
    :func:`fonts_schema` for a subset of the vocabularies or other latent sizes.
    """

    letter = gs.Attribute(values=LETTERS, latent=DEFAULT_LATENT,
                          description="the glyph: A–Z then a–z")
    size = gs.Attribute(values=SIZES, latent=DEFAULT_LATENT,
                        description="glyph size relative to the canvas")
    font_color = gs.Attribute(values=COLOUR_NAMES, latent=DEFAULT_LATENT,
                              description="colour of the glyph")
    back_color = gs.Attribute(values=COLOUR_NAMES, latent=DEFAULT_LATENT,
                              description="colour of the background (never the glyph's)")
    font = gs.Attribute(latent=DEFAULT_LATENT, description="font face name, e.g. dejavusans")


def suggest(name: str, choices: Sequence[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of *choices*, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _ordered_subset(attribute: str, chosen: Sequence[str] | None,
                    canonical: Sequence[str]) -> tuple[str, ...]:
    """*chosen* in canonical order; every value must be known, none repeated, none empty."""
    if chosen is None:
        return tuple(canonical)
    unknown = [v for v in chosen if v not in canonical]
    if unknown:
        raise gs.LabelError(f"{attribute}: unknown value {unknown[0]!r}"
                            f"{suggest(str(unknown[0]), canonical)}; "
                            f"known values: {', '.join(canonical)}")
    if not chosen:
        raise gs.ConfigError(f"{attribute}: the selection is empty")
    picked = set(chosen)
    return tuple(v for v in canonical if v in picked)


def fonts_schema(*, fonts: Sequence[str] | None = None, letters: Sequence[str] | None = None,
                 sizes: Sequence[str] | None = None, font_colors: Sequence[str] | None = None,
                 back_colors: Sequence[str] | None = None,
                 latent: Mapping[str, int] | None = None) -> type[gs.Schema]:
    """A Fonts schema restricted to the given values (kept in canonical order).

    *fonts* keeps its given order (renders sort it by name). *latent* maps attribute names to
    block widths, e.g. ``{"font": 40}``.
    """
    values: dict[str, tuple[str, ...]] = {
        "letter": _ordered_subset("letter", letters, LETTERS),
        "size": _ordered_subset("size", sizes, SIZES),
        "font_color": _ordered_subset("font_color", font_colors, COLOUR_NAMES),
        "back_color": _ordered_subset("back_color", back_colors, COLOUR_NAMES),
    }
    if fonts is not None:
        values["font"] = tuple(fonts)
    schema = FontsSchema.with_values(**values)
    return schema.with_latent(**latent) if latent else schema

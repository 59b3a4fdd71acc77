"""RenderPlan: what a Fonts render job draws, in which order, and its identity.

A plan fixes the fonts, the selected values and the renderer options; its images are
enumerated in a fixed row order (font, letter, size, font colour, background colour, skipping
equal colours) and cut into chunks of one (font, letter) each. :meth:`RenderPlan.key` hashes
everything the pixels and labels depend on, so a resumed or repeated job knows whether an
existing output is its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

import groupsup as gs
from groupsup_fonts.discovery import FontFace
from groupsup_fonts.renderer import DEFAULT_MARGIN, FontsRenderer
from groupsup_fonts.schema import COLOUR_NAMES, COLOURS, LETTERS, SIZES, fonts_schema

ROW_ORDER = ("font", "letter", "size", "font_color", "back_color")


@dataclass(frozen=True)
class RenderPlan:
    """What to render: fonts, selected values (canonical order) and renderer options."""

    fonts: tuple[FontFace, ...]
    image_size: int = 32
    letters: tuple[str, ...] = LETTERS
    sizes: tuple[str, ...] = SIZES
    font_colors: tuple[str, ...] = COLOUR_NAMES
    back_colors: tuple[str, ...] = COLOUR_NAMES
    centring: str = "ink"
    sizing: str = "fit"
    margin: float = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        # Validates the selections (errors name an unknown value) and puts them in order.
        schema = fonts_schema(letters=self.letters, sizes=self.sizes,
                              font_colors=self.font_colors, back_colors=self.back_colors)
        for name, attribute in (("letters", "letter"), ("sizes", "size"),
                                ("font_colors", "font_color"), ("back_colors", "back_color")):
            object.__setattr__(self, name, tuple(schema[attribute].values))
        if not len(self.colour_pairs()):
            raise gs.ConfigError("the chosen font and background colours leave no pair of "
                                 "different colours to render")
        self.renderer()  # validates image size, centring, sizing and margin

    @functools.cached_property
    def schema(self) -> type[gs.Schema]:
        """The dataset's schema: the selected values, fonts sorted as given."""
        return fonts_schema(fonts=[face.name for face in self.fonts], letters=self.letters,
                            sizes=self.sizes, font_colors=self.font_colors,
                            back_colors=self.back_colors)

    def renderer(self) -> FontsRenderer:
        return FontsRenderer(self.fonts, self.image_size, centring=self.centring,
                             sizing=self.sizing, margin=self.margin)

    # ------------------------------------------------------------------ rows
    def colour_pairs(self) -> np.ndarray:
        """``(P, 2)`` canonical (font colour, background colour) indices, equal pairs left out."""
        fg = np.array([COLOUR_NAMES.index(c) for c in self.font_colors])
        bg = np.array([COLOUR_NAMES.index(c) for c in self.back_colors])
        grid = np.stack(np.meshgrid(fg, bg, indexing="ij"), axis=-1).reshape(-1, 2)
        return grid[grid[:, 0] != grid[:, 1]]

    @property
    def chunk_size(self) -> int:
        """Images per chunk: one (font, letter)."""
        return len(self.sizes) * len(self.colour_pairs())

    def __len__(self) -> int:
        return len(self.fonts) * len(self.letters) * self.chunk_size

    @property
    def chunks(self) -> int:
        return len(self.fonts) * len(self.letters)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """``(stop - start, 5)`` canonical indices (font, letter, size, fg, bg) of those rows.

        Fonts index :attr:`fonts`; the other columns index the full vocabularies.
        """
        pairs = self.colour_pairs()
        letters = np.array([LETTERS.index(c) for c in self.letters])
        sizes = np.array([SIZES.index(s) for s in self.sizes])
        row = np.arange(start, stop)
        row, pair = np.divmod(row, len(pairs))
        row, size = np.divmod(row, len(sizes))
        font, letter = np.divmod(row, len(letters))
        return np.stack([font, letters[letter], sizes[size], pairs[pair, 0], pairs[pair, 1]],
                        axis=1)

    def labels(self) -> np.ndarray:
        """``(N, 5)`` int64 codes of every row, columns in :attr:`schema` attribute order."""
        rows = self.rows(0, len(self))
        columns = []
        for j, values in ((1, LETTERS), (2, SIZES), (3, COLOUR_NAMES), (4, COLOUR_NAMES)):
            chosen = self.schema.attributes[j - 1].values
            code = np.full(len(values), -1, dtype=np.int64)
            code[[values.index(v) for v in chosen]] = np.arange(len(chosen))
            columns.append(code[rows[:, j]])
        columns.append(rows[:, 0])  # font codes are positions in self.fonts, as in the schema
        return np.stack(columns, axis=1).astype(np.int64)

    def chunk_rows(self, chunk: int) -> tuple[int, int]:
        return chunk * self.chunk_size, (chunk + 1) * self.chunk_size

    # ------------------------------------------------------------------ provenance
    def identity(self) -> dict[str, Any]:
        """Everything the pixels and labels depend on."""
        return {"renderer": self.renderer().options(), "row_order": list(ROW_ORDER),
                "vocabularies": {a.name: list(a.values) for a in self.schema.attributes},
                "fonts": [{"name": f.name, "sha256": f.sha256, "index": f.index}
                          for f in self.fonts]}

    def key(self) -> str:
        """A hash of :meth:`identity`: equal keys mean identical outputs."""
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def manifest(self, layout: str, naming: str) -> dict[str, Any]:
        """The ``fonts`` section of a manifest."""
        renderer = self.renderer()
        return {"key": self.key(), "layout": layout, "naming": naming,
                **renderer.options(), "row_order": list(ROW_ORDER),
                "vocabularies": {a.name: list(a.values) for a in self.schema.attributes},
                "colours": {name: list(COLOURS[name]) for name in COLOUR_NAMES},
                "pixel_sizes": {f.name: list(renderer.pixel_sizes(i))
                                for i, f in enumerate(self.fonts)},
                "font_files": [f.record() for f in self.fonts]}

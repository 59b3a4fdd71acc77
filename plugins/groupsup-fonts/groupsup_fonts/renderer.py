"""The Fonts renderer: one antialiased letter per square image, deterministic and fast.

Rendering is split in two steps. Glyph masks (antialiased coverage, uint8) are rasterised once
per (font, letter, size) with Pillow/FreeType, at 4x the canvas resolution and box-filtered
down to it (see :mod:`groupsup_fonts.glyphs`); images are then made from the
masks for any colour pair with one table look-up per pixel (numpy), which is what makes
thousands of images per second per core possible.

Sizes (``sizing``):

- ``"fit"`` (default): per font, *large* is the biggest whole pixel size at which every one of
  the 52 letters' ink box fits inside the canvas less a margin (5 % of the side on each side,
  at least one pixel); *medium* and *small* are 5/6 and 2/3 of it (the paper's 100/120 and
  80/120). So every glyph fits at every size and canvas, whatever the font's proportions.
- ``"paper"``: the paper's 80/100/120 px at 128 px, scaled with the canvas; large glyphs may
  overflow and are clipped, as in the reference.

Placement (``centring``): ``"ink"`` (default) centres each glyph's ink box on the canvas;
``"line"`` centres the line box (advance width by ascent + descent) as the reference code does.

Colour: ``pixel = (background * (255 - coverage) + glyph * coverage + 127) // 255`` per
channel, so a background pixel is exactly the background colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import PIL
from PIL import features

import groupsup as gs
from groupsup_fonts.discovery import FontFace
from groupsup_fonts.glyphs import ink_mask, line_mask, open_font, place_centred
from groupsup_fonts.schema import COLOUR_NAMES, COLOURS, LETTERS, SIZES, fonts_schema

RENDERER_VERSION = "1"
CENTRINGS = ("ink", "line")
SIZINGS = ("fit", "paper")
SIZE_FRACTIONS = (2 / 3, 5 / 6, 1.0)  # small, medium, large relative to large
PAPER_PIXELS = (80, 100, 120)  # the paper's font sizes at a 128 px canvas
DEFAULT_MARGIN = 0.05
SUPERSAMPLE = 4  # glyphs are drawn this many times larger, then box-filtered down
_MEASURE_SIZE = 256  # pixels per em at which glyph extents are measured for "fit"
_SLICE_PIXELS = 1 << 18

_RGB = np.array([COLOURS[name] for name in COLOUR_NAMES], dtype=np.int32)


def _colour_table() -> np.ndarray:
    """``(C * C * 256, 3)`` uint8: row ``(fg * C + bg) * 256 + coverage`` is the pixel."""
    coverage = np.arange(256, dtype=np.int32)[None, None, :, None]
    fg, bg = _RGB[:, None, None, :], _RGB[None, :, None, :]
    table = (bg * (255 - coverage) + fg * coverage + 127) // 255
    return table.astype(np.uint8).reshape(-1, 3)


_COLOUR_TABLE = _colour_table()


def colourise(masks: np.ndarray, font_colour: np.ndarray, back_colour: np.ndarray,
              out: np.ndarray | None = None) -> np.ndarray:
    """Coverage masks ``(n, H, W)`` uint8 and colour indices ``(n,)`` -> RGB ``(n, H, W, 3)``.

    Colour indices refer to :data:`~groupsup_fonts.schema.COLOUR_NAMES`. Works through the
    images in slices of about 2**18 pixels, so the look-up indices stay in cache.
    """
    n, height, width = masks.shape
    pair = (np.asarray(font_colour, dtype=np.int32) * len(COLOUR_NAMES)
            + np.asarray(back_colour, dtype=np.int32)) * 256
    if out is None:
        out = np.empty((n, height, width, 3), dtype=np.uint8)
    step = max(1, _SLICE_PIXELS // (height * width))
    for start in range(0, n, step):
        stop = min(n, start + step)
        rows = pair[start:stop, None, None] + masks[start:stop]
        np.take(_COLOUR_TABLE, rows, axis=0, out=out[start:stop], mode="clip")
    return out


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose output the pixels depend on."""
    return {"pillow": PIL.__version__, "freetype": str(features.version("freetype2")),
            "numpy": np.__version__}


class FontsRenderer:
    """Renders Fonts images for a fixed list of font faces, canvas size and options.

    The renderer's :attr:`schema` holds the full letter, size and colour vocabularies and the
    given fonts (in the given order). Masks are computed lazily per font and kept.
    """

    def __init__(self, fonts: Sequence[FontFace], image_size: int = 32, *,
                 centring: str = "ink", sizing: str = "fit", margin: float = DEFAULT_MARGIN):
        if not fonts:
            raise gs.ConfigError("FontsRenderer needs at least one font face")
        names = [face.name for face in fonts]
        if len(set(names)) != len(names):
            raise gs.ConfigError(f"FontsRenderer: duplicate font names in {names}")
        if not isinstance(image_size, int) or image_size < 8:
            raise gs.ConfigError(f"image_size must be an integer >= 8, got {image_size!r}")
        if centring not in CENTRINGS:
            raise gs.ConfigError(f"centring must be one of {CENTRINGS}, got {centring!r}")
        if sizing not in SIZINGS:
            raise gs.ConfigError(f"sizing must be one of {SIZINGS}, got {sizing!r}")
        if not 0.0 <= margin < 0.25:
            raise gs.ConfigError(f"margin must be in [0, 0.25), got {margin!r}")
        self.fonts = tuple(fonts)
        self.image_size = image_size
        self.centring = centring
        self.sizing = sizing
        self.margin = margin
        self.schema = fonts_schema(fonts=names)
        self._font_index = {name: i for i, name in enumerate(names)}
        self._masks: dict[int, np.ndarray] = {}
        self._pixel_sizes: dict[int, tuple[int, int, int]] = {}

    # ------------------------------------------------------------------ options
    def options(self) -> dict[str, Any]:
        """Everything that determines the pixels (for manifests and cache keys)."""
        return {"renderer_version": RENDERER_VERSION, "image_size": self.image_size,
                "centring": self.centring, "sizing": self.sizing, "margin": self.margin,
                "supersample": SUPERSAMPLE, **library_versions()}

    @property
    def margin_pixels(self) -> int:
        return max(1, round(self.margin * self.image_size)) if self.margin > 0 else 0

    def font_index(self, name: str) -> int:
        try:
            return self._font_index[name]
        except KeyError:
            raise gs.LabelError(f"font {name!r} is not one of this renderer's "
                                f"{len(self.fonts)} fonts: {', '.join(self._font_index)}"
                                ) from None

    # ------------------------------------------------------------------ masks
    def pixel_sizes(self, font: int) -> tuple[int, int, int]:
        """Pixels per em of (small, medium, large) for font number *font*."""
        if font not in self._pixel_sizes:
            if self.sizing == "paper":
                sizes = tuple(max(1, round(p * self.image_size / 128)) for p in PAPER_PIXELS)
            else:
                sizes = self._fit_sizes(self.fonts[font])
            self._pixel_sizes[font] = sizes
        return self._pixel_sizes[font]

    def glyph_masks(self, font: int) -> np.ndarray:
        """uint8 ``(52, 3, H, W)`` coverage masks of font number *font* (letters x sizes)."""
        if font not in self._masks:
            self._masks[font] = self._rasterise(font)
        return self._masks[font]

    def _rasterise(self, font: int) -> np.ndarray:
        face, canvas = self.fonts[font], self.image_size
        out = np.empty((len(LETTERS), len(SIZES), canvas, canvas), dtype=np.uint8)
        for s, pixels in enumerate(self.pixel_sizes(font)):
            font_obj = open_font(face.path, face.index, pixels * SUPERSAMPLE)
            for letter, char in enumerate(LETTERS):
                if self.centring == "line":
                    out[letter, s] = line_mask(font_obj, char, canvas, SUPERSAMPLE)
                else:
                    out[letter, s] = place_centred(ink_mask(font_obj, char, SUPERSAMPLE), canvas)
        return out

    def _fit_sizes(self, face: FontFace) -> tuple[int, int, int]:
        """The "fit" rule: the largest size at which all 52 ink boxes fit, and 5/6, 2/3 of it."""
        available = self.image_size - 2 * self.margin_pixels
        probe = open_font(face.path, face.index, _MEASURE_SIZE)
        extent = 0
        for char in LETTERS:
            left, top, right, bottom = probe.getbbox(char, anchor="ls")
            extent = max(extent, right - left, bottom - top)
        large = max(3, int(_MEASURE_SIZE * available / max(extent, 1)))
        while large > 3:  # hinting and filtering are not exactly linear: check, shrink if needed
            font_obj = open_font(face.path, face.index, large * SUPERSAMPLE)
            if max(max(ink_mask(font_obj, char, SUPERSAMPLE).shape) for char in LETTERS) \
                    <= available:
                break
            large -= 1
        small, medium = (max(1, round(large * f)) for f in SIZE_FRACTIONS[:2])
        return small, medium, large

    # ------------------------------------------------------------------ images
    def render_indices(self, font: np.ndarray, letter: np.ndarray, size: np.ndarray,
                       font_colour: np.ndarray, back_colour: np.ndarray) -> np.ndarray:
        """Images from canonical indices: uint8 ``(n, H, W, 3)``.

        *font* indexes :attr:`fonts`; *letter*, *size* and the colours index
        :data:`LETTERS`, :data:`SIZES` and :data:`COLOUR_NAMES`. All arrays are ``(n,)``.
        """
        font, letter, size, font_colour, back_colour = (
            np.asarray(a, dtype=np.int64).reshape(-1)
            for a in (font, letter, size, font_colour, back_colour))
        same = np.flatnonzero(font_colour == back_colour)
        if same.size:
            colour = COLOUR_NAMES[int(font_colour[same[0]])]
            raise gs.LabelError(f"row {int(same[0])}: font colour and background colour are both "
                                f"{colour!r}; Fonts never renders a glyph in its background's "
                                "colour")
        canvas = self.image_size
        out = np.empty((len(font), canvas, canvas, 3), dtype=np.uint8)
        fonts = np.unique(font).tolist()
        if len(fonts) == 1:  # the common case (a render chunk): colour straight into out
            masks = self.glyph_masks(fonts[0])[letter, size]
            return colourise(masks, font_colour, back_colour, out=out)
        for f in fonts:
            rows = np.flatnonzero(font == f)
            masks = self.glyph_masks(f)[letter[rows], size[rows]]
            out[rows] = colourise(masks, font_colour[rows], back_colour[rows])
        return out

    def render(self, labels: Any, schema: type[gs.Schema] | None = None) -> np.ndarray:
        """Ground truth for any combinations: uint8 ``(n, H, W, 3)``.

        *labels*: an ``(n, 5)`` integer code matrix in *schema* (default :attr:`schema`; a
        dataset's schema works as long as its fonts are among this renderer's), or label
        records (dicts, or tuples in attribute order) holding values such as
        ``{"letter": "A", "size": "large", "font_color": "red", "back_color": "blue",
        "font": "dejavusans"}``.
        """
        schema = schema or self.schema
        if schema.names != self.schema.names:
            raise gs.LabelError(f"labels to render: schema attributes {list(schema.names)} are "
                                f"not the Fonts attributes {list(self.schema.names)}")
        if isinstance(labels, np.ndarray) and np.issubdtype(labels.dtype, np.integer):
            codes = schema.check_codes(labels, where="labels to render")
        else:
            schema = self.schema
            codes = schema.encode(list(labels), where="labels to render")
        columns = {name: codes[:, j] for j, name in enumerate(schema.names)}
        vocab = {a.name: a.values for a in schema.attributes}
        canonical = {
            "letter": LETTERS, "size": SIZES, "font_color": COLOUR_NAMES,
            "back_color": COLOUR_NAMES,
        }
        index = {}
        for name, values in canonical.items():
            unknown = [v for v in vocab[name] if v not in values]
            if unknown:
                raise gs.LabelError(f"labels to render: {name} value {unknown[0]!r} is not a "
                                    f"Fonts value; known: {', '.join(values)}")
            lookup = np.array([values.index(v) for v in vocab[name]], dtype=np.int64)
            index[name] = lookup[columns[name]]
        font_lookup = np.array([self.font_index(v) for v in vocab["font"]], dtype=np.int64)
        return self.render_indices(font_lookup[columns["font"]], index["letter"],
                                   index["size"], index["font_color"], index["back_color"])

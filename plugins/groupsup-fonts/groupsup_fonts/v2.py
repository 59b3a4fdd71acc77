"""Fonts-v2: Fonts with short words, position, rotation and texture as optional attributes.

The paper's authors extended Fonts with simple words and three more attributes; this is
groupsup's version of that extension, for CPU-scale experiments. Every image is a pure function
of its labels (:meth:`FontsV2Renderer.render` renders any label row), so held-out combinations
have exact ground truth. An attribute given a single value is left out of the schema.

Per image, in this order: the text's coverage mask (a letter or a word, one of three sizes,
ink-centred; cached per font, text and size), rotated about the canvas centre (bilinear), moved
by a whole-pixel offset of the position grid, textured, then coloured:
``pixel = back' * (1 - c) + fore * c`` with ``c`` the coverage (times the pattern when the
texture is on the glyph) and ``back'`` the background colour (darkened by the pattern when the
texture is on the background).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

import groupsup as gs
from groupsup_fonts.discovery import FontFace, discover_fonts
from groupsup_fonts.glyphs import ink_mask, open_font, place_centred
from groupsup_fonts.options import parse_letters
from groupsup_fonts.renderer import SIZE_FRACTIONS, SUPERSAMPLE
from groupsup_fonts.schema import COLOUR_NAMES, COLOURS, SIZES

TEXTURES: tuple[str, ...] = ("plain", "stripes", "checks", "dots")
TEXTURE_DARK = 0.45  # pattern value off the motif: 45 % coverage (glyph) or brightness (back)
_PROBE = 64  # pixels per em at which text extents are measured


def texture_pattern(name: str, size: int) -> np.ndarray:
    """``(size, size)`` float32 in {TEXTURE_DARK, 1}: the motif (1) of a procedural texture."""
    y, x = np.mgrid[:size, :size]
    period = max(2, size // 8)
    motif = {"plain": np.ones((size, size), bool),
             "stripes": (y // (period // 2 or 1)) % 2 == 0,
             "checks": ((y // period) + (x // period)) % 2 == 0,
             "dots": ((y % period) < period // 2) & ((x % period) < period // 2)}
    if name not in motif:
        raise gs.ConfigError(f"texture {name!r} is not one of {list(TEXTURES)}")
    return np.where(motif[name], 1.0, TEXTURE_DARK).astype(np.float32)


def position_grid(k: int, image_size: int) -> list[tuple[int, int]]:
    """A k x k grid of (dx, dy) pixel offsets, symmetric about 0, spaced image_size // 8."""
    step = max(1, image_size // 8)
    offsets = [(i - (k - 1) / 2) * step for i in range(k)]
    return [(round(dx), round(dy)) for dy in offsets for dx in offsets]


class FontsV2Options(BaseModel):
    """Options of the ``fonts-v2`` dataset; an attribute with one value is not in the schema."""

    model_config = ConfigDict(extra="forbid")

    image_size: int = Field(32, ge=16, description="side of the square images, pixels")
    words: list[str] | None = Field(None, description="short words in place of letters, "
                                    "e.g. ['cat', 'dog', 'sun']; None: single letters")
    letters: str | list[str] = Field("A-E", description="letters when words is None")
    sizes: list[Literal["small", "medium", "large"]] = Field(default=["medium", "large"])
    font_colors: list[str] = Field(default=["red", "yellow", "blue"])
    back_colors: list[str] = Field(default=["red", "yellow", "blue"])
    fonts: int | list[str] = Field(2, description="how many fonts, or their names")
    positions: int = Field(2, ge=1, le=5, description="k: a k x k grid of offsets (1: none)")
    rotations: list[int] = Field(default=[0, 30], description="angles in degrees")
    textures: list[Literal[TEXTURES]] = Field(default=["plain", "stripes"])  # type: ignore[valid-type]
    texture_on: Literal["glyph", "background"] = "glyph"
    font_dirs: list[Path] = Field(default_factory=list)
    system_fonts: bool = False
    matplotlib_fonts: bool = True
    latent: int = Field(8, ge=1, description="latent block width of every attribute")

    @field_validator("font_colors", "back_colors")
    @classmethod
    def _colours(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in COLOURS]
        if unknown or not values:
            raise ValueError(f"colours must be a non-empty subset of {list(COLOUR_NAMES)}, "
                             f"got {values}")
        return values

    @field_validator("words")
    @classmethod
    def _words(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and (not values or len(set(values)) != len(values)
                                   or not all(v.isalpha() and len(v) <= 6 for v in values)):
            raise ValueError(f"words must be distinct, non-empty, letters only, at most 6 "
                             f"long; got {values}")
        return values


class FontsV2Renderer:
    """Renders any Fonts-v2 label row; :attr:`schema` lists the attributes with 2+ values."""

    def __init__(self, options: FontsV2Options, faces: list[FontFace]) -> None:
        self.options = o = options
        texts = list(o.words) if o.words else list(parse_letters(o.letters))
        self.faces = faces
        grid = position_grid(o.positions, o.image_size)
        self.vocab: dict[str, tuple[str, ...]] = {
            "text": tuple(texts), "size": tuple(s for s in SIZES if s in o.sizes),
            "font_color": tuple(o.font_colors), "back_color": tuple(o.back_colors),
            "font": tuple(f.name for f in faces),
            "position": tuple(f"{dx:+d},{dy:+d}" for dx, dy in grid),
            "rotation": tuple(str(a) for a in o.rotations),
            "texture": tuple(o.textures)}
        self.offsets = grid
        self.all_names = tuple(self.vocab)
        varying = [n for n in self.all_names if len(self.vocab[n]) > 1]
        fields = {n: gs.Attribute(values=self.vocab[n], latent=o.latent) for n in varying}
        self.schema: type[gs.Schema] = type("FontsV2", (gs.Schema,), fields)
        self._masks: dict[tuple[int, int, int], np.ndarray] = {}
        self._sizes: dict[int, tuple[int, ...]] = {}

    def _pixel_sizes(self, font: int) -> tuple[int, ...]:
        """Per font, (small, medium, large) px per em such that the widest text, moved to the
        farthest offset and rotated, stays inside the canvas."""
        if font not in self._sizes:
            o, face = self.options, self.faces[font]
            probe = open_font(face.path, face.index, _PROBE)
            extent = max(max(r - left, b - t) for left, t, r, b in
                         (probe.getbbox(text, anchor="ls") for text in self.vocab["text"]))
            shift = max((max(abs(dx), abs(dy)) for dx, dy in self.offsets), default=0)
            room = o.image_size * 0.9 - 2 * shift
            if any(int(a) % 180 for a in self.vocab["rotation"]):
                room /= np.sqrt(2)  # a rotated box needs up to sqrt(2) of its side
            large = max(3, int(_PROBE * room / max(extent, 1)))
            self._sizes[font] = tuple(max(2, round(large * f)) for f in (*SIZE_FRACTIONS[:2], 1))
        return self._sizes[font]

    def _mask(self, font: int, text: int, size: int) -> np.ndarray:
        key = (font, text, size)
        if key not in self._masks:
            face = self.faces[font]
            pixels = self._pixel_sizes(font)[SIZES.index(self.vocab["size"][size])]
            glyph = ink_mask(open_font(face.path, face.index, pixels * SUPERSAMPLE),
                             self.vocab["text"][text], SUPERSAMPLE)
            self._masks[key] = place_centred(glyph, self.options.image_size)
        return self._masks[key]

    def full_codes(self) -> np.ndarray:
        """``(N, 8)`` codes over all attributes of every renderable combination (font and
        background colours never equal), in lexicographic order."""
        ranges = [range(len(self.vocab[n])) for n in self.all_names]
        rows = np.array(list(itertools.product(*ranges)), dtype=np.int64)
        fc, bc = self.all_names.index("font_color"), self.all_names.index("back_color")
        colour = np.array(self.vocab["font_color"])[rows[:, fc]] != \
            np.array(self.vocab["back_color"])[rows[:, bc]]
        return rows[colour]

    def expand(self, codes: np.ndarray) -> np.ndarray:
        """Schema codes ``(n, A)`` -> codes over all eight attributes (fixed ones are 0)."""
        codes = self.schema.check_codes(np.asarray(codes), where="fonts-v2 labels")
        full = np.zeros((len(codes), len(self.all_names)), dtype=np.int64)
        for j, name in enumerate(self.schema.names):
            full[:, self.all_names.index(name)] = codes[:, j]
        return full

    def render(self, codes: np.ndarray) -> np.ndarray:
        """Ground truth for any schema code rows ``(n, A)``: uint8 ``(n, H, W, 3)``."""
        return self.render_full(self.expand(codes))

    def render_full(self, full: np.ndarray) -> np.ndarray:
        """Images of codes over all eight attributes ``(n, 8)``: uint8 ``(n, H, W, 3)``."""
        o, size = self.options, self.options.image_size
        names = self.all_names
        out = np.empty((len(full), size, size, 3), dtype=np.uint8)
        patterns = {t: texture_pattern(t, size) for t in self.vocab["texture"]}
        for i, row in enumerate(full.tolist()):
            v = dict(zip(names, row))
            if self.vocab["font_color"][v["font_color"]] == \
                    self.vocab["back_color"][v["back_color"]]:
                raise gs.LabelError(f"row {i}: font and background colour are equal")
            mask = self._mask(v["font"], v["text"], v["size"])
            angle = int(self.vocab["rotation"][v["rotation"]])
            if angle % 360:
                mask = np.asarray(Image.fromarray(mask).rotate(angle, Image.Resampling.BILINEAR))
            dx, dy = self.offsets[v["position"]]
            mask = np.roll(mask, (dy, dx), axis=(0, 1))  # sizes leave room: nothing wraps
            coverage = mask.astype(np.float32) / 255
            pattern = patterns[self.vocab["texture"][v["texture"]]]
            back = np.array(COLOURS[self.vocab["back_color"][v["back_color"]]], np.float32)
            fore = np.array(COLOURS[self.vocab["font_color"][v["font_color"]]], np.float32)
            if o.texture_on == "glyph":
                coverage = coverage * pattern
                background = np.broadcast_to(back, (size, size, 3))
            else:
                background = back * pattern[..., None]
            pixel = background * (1 - coverage[..., None]) + fore * coverage[..., None]
            out[i] = np.clip(np.rint(pixel), 0, 255).astype(np.uint8)
        return out


def renderer_for(options: FontsV2Options) -> FontsV2Renderer:
    """Discover the fonts the options name and build the renderer."""
    catalog = discover_fonts(options.font_dirs, system=options.system_fonts,
                             matplotlib=options.matplotlib_fonts)
    return FontsV2Renderer(options, list(catalog.select(options.fonts)))


def load_fonts_v2(options: FontsV2Options) -> gs.GroupDataset:
    """Every combination rendered in memory (CPU scale: keep the grid to tens of thousands)."""
    renderer = renderer_for(options)
    full = renderer.full_codes()
    if len(full) > 200_000:
        raise gs.ConfigError(f"fonts-v2: {len(full)} combinations; choose fewer values (the "
                             "dataset is rendered in memory, up to 200,000 images)")
    varying = [renderer.all_names.index(n) for n in renderer.schema.names]
    return gs.GroupDataset.from_arrays(renderer.schema, renderer.render_full(full),
                                       full[:, varying], name="fonts-v2")


SPEC = gs.DatasetSpec(
    schema=None, load=load_fonts_v2, options_model=FontsV2Options,
    expects="nothing: rendered in memory from the fonts found",
    description="Fonts-v2: letters or short words with optional position, rotation and "
                "texture attributes, exact ground truth for every combination")

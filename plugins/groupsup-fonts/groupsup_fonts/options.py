"""Options of the ``fonts`` dataset and the loader that acts on them.

Three sources: ``root`` (a tree in the released layout), ``store`` (a store written by
``groupsup render-fonts --layout store``), or neither, which renders the selection into a
store under ``cache_dir`` named by the hash of everything the pixels depend on (so a second
load with the same options and fonts reuses it, and an interrupted render resumes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import groupsup as gs
from groupsup_fonts.discovery import discover_fonts
from groupsup_fonts.loader import load_folder, load_store
from groupsup_fonts.plan import RenderPlan
from groupsup_fonts.renderer import DEFAULT_MARGIN
from groupsup_fonts.schema import COLOUR_NAMES, LETTERS, SIZES
from groupsup_fonts.writers import render_store

CACHE_ENV = "GROUPSUP_CACHE"


def default_cache_dir() -> Path:
    """``$GROUPSUP_CACHE/fonts``, else ``$XDG_CACHE_HOME/groupsup/fonts`` (``~/.cache``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "fonts"
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "groupsup" / "fonts"


def parse_letters(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"all"``, ``"upper"``, ``"lower"``, or comma-separated letters and ranges.

    Ranges follow the order A–Z then a–z: ``"A-J,x,y"``; ``"A-z"`` is every letter. A list
    of single letters is taken as it is. Returns the letters in canonical order.
    """
    if not isinstance(spec, str):
        items = list(spec)
    else:
        keyword = {"all": LETTERS, "upper": LETTERS[:26], "lower": LETTERS[26:]}
        items = []
        for item in (part.strip() for part in spec.split(",")):
            if item in keyword:
                items += keyword[item]
            elif len(item) == 3 and item[1] == "-" and item[0] in LETTERS and item[2] in LETTERS:
                first, last = LETTERS.index(item[0]), LETTERS.index(item[2])
                if first > last:
                    raise gs.ConfigError(f"letters: range {item!r} runs backwards (order is "
                                         "A–Z then a–z)")
                items += LETTERS[first:last + 1]
            elif item in LETTERS:
                items.append(item)
            else:
                raise gs.ConfigError(f"letters: cannot read {item!r}; use all, upper, lower, "
                                     "single letters or ranges such as A-J, comma-separated")
    unknown = [c for c in items if c not in LETTERS]
    if unknown:
        raise gs.ConfigError(f"letters: {unknown[0]!r} is not one of A–Z, a–z")
    if not items:
        raise gs.ConfigError("letters: the selection is empty")
    chosen = set(items)
    return tuple(c for c in LETTERS if c in chosen)


class FontsOptions(BaseModel):
    """Options of the ``fonts`` dataset (``dataset.options`` in an experiment config)."""

    model_config = ConfigDict(extra="forbid")

    root: Path | None = Field(None, description="a Fonts tree in the released layout")
    store: Path | None = Field(None, description="a store from render-fonts --layout store")
    cache_dir: Path = Field(default_factory=default_cache_dir,
                            description="where renders on the fly are kept (without root/store)")
    image_size: int = Field(32, ge=8, description="side of the square images, pixels")
    letters: str | list[str] = Field("all", description="e.g. 'all', 'A-J,a-c', ['A', 'b']")
    sizes: list[str] | None = Field(None, description=f"subset of {list(SIZES)}")
    font_colors: list[str] | None = Field(None, description=f"subset of {list(COLOUR_NAMES)}")
    back_colors: list[str] | None = Field(None, description="subset of the colours")
    fonts: int | list[str] | None = Field(
        None, description="how many fonts (one per family first) or their names; None: all")
    font_dirs: list[Path] = Field(default_factory=list, description="extra font files/folders")
    system_fonts: bool = Field(True, description="use the system's fonts")
    matplotlib_fonts: bool = Field(True, description="use the fonts in matplotlib's wheel")
    centring: Literal["ink", "line"] = "ink"
    sizing: Literal["fit", "paper"] = "fit"
    margin: float = Field(DEFAULT_MARGIN, ge=0, lt=0.25)
    workers: int = Field(1, ge=1, description="render processes")
    progress: bool = Field(True, description="show a progress bar while rendering")
    allow_missing: bool = Field(False, description="load a tree with missing combinations")
    latent: dict[str, int] = Field(default_factory=dict,
                                   description="latent block sizes, e.g. {'font': 40}")

    @field_validator("root", "store", "cache_dir")
    @classmethod
    def _expand(cls, path: Path | None) -> Path | None:
        return None if path is None else path.expanduser()

    @model_validator(mode="after")
    def _one_source(self) -> FontsOptions:
        if self.root is not None and self.store is not None:
            raise ValueError("give root (a folder tree) or store, not both")
        return self

    def plan(self) -> RenderPlan:
        """The render plan these options describe (discovers the fonts)."""
        catalog = discover_fonts(self.font_dirs, system=self.system_fonts,
                                 matplotlib=self.matplotlib_fonts)
        return RenderPlan(catalog.select(self.fonts), self.image_size,
                          letters=parse_letters(self.letters),
                          sizes=tuple(self.sizes or SIZES),
                          font_colors=tuple(self.font_colors or COLOUR_NAMES),
                          back_colors=tuple(self.back_colors or COLOUR_NAMES),
                          centring=self.centring, sizing=self.sizing, margin=self.margin)


def cache_path(options: FontsOptions, plan: RenderPlan) -> Path:
    """Where a render on the fly of *plan* is kept."""
    return options.cache_dir / f"fonts-{plan.image_size}px-{plan.key()[:16]}"


def load_fonts(options: FontsOptions) -> gs.GroupDataset:
    """The ``fonts`` dataset's loader: a folder tree, a store, or a cached render."""
    if options.root is not None:
        return load_folder(options.root, allow_missing=options.allow_missing,
                           latent=options.latent)
    if options.store is not None:
        return load_store(options.store, latent=options.latent)
    plan = options.plan()
    result = render_store(plan, cache_path(options, plan), workers=options.workers,
                          progress=options.progress)
    return load_store(result.path, latent=options.latent)

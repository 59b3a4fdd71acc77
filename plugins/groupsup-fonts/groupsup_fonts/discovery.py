"""Font discovery and validation: which font faces can render the 52 letters.

Sources, in priority order (a face found in two places keeps the first):

1. ``explicit``: font files or folders the user names;
2. ``matplotlib``: the faces inside matplotlib's wheel (pinned by the project's constraints,
   so the same on every machine; a pip-only machine renders with them);
3. ``system``: fontconfig's list (``fc-list``), or the standard font folders without it.

A face is kept when its Unicode cmap covers A–Z and a–z, it is not a symbol or math font, and
its 52 glyphs render as non-empty images that differ from the missing-glyph box and (but for at
most two coincidences such as ``I``/``l``) from each other. Faces are named by their family and
style in lower-case alphanumerics (``DejaVu Serif`` + ``Bold`` -> ``dejavuserifbold``; the
regular style adds nothing), deduplicated by file content and by name, and sorted by name.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import groupsup as gs
from groupsup_fonts.glyphs import ink_mask, open_font
from groupsup_fonts.schema import LETTERS, suggest

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
SOURCES = ("explicit", "matplotlib", "system")
SYSTEM_FONT_DIRS = (
    "/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
    "/Library/Fonts", "/System/Library/Fonts", "~/Library/Fonts", "C:/Windows/Fonts",
)
REGULAR_STYLES = frozenset({"regular", "book", "roman", "normal", "plain"})
# Families whose letters are symbols, math alphabets or placeholder boxes. Some of them map
# A–Z a–z in their cmap (TeX's cmsy/cmex/cmmi), so the cmap check alone does not catch them.
SYMBOLIC_FAMILY = re.compile(
    r"symbol|dingbat|math|lastresort|emoji|ornament|wingding|webding|fontawesome|"
    r"^cm(ex|sy|mi)\d|^stix(size|nonuni|integrals|variants)|^(esint|eufm|msam|msbm|rsfs|wasy)"
)
VALIDATION_SIZE = 48  # pixels per em for the rendering checks
MIN_DISTINCT = 50  # of 52 glyph images; tolerates coincidences such as I/l in a sans face
_ALIKE_LEVEL = 16  # mean coverage difference (of 255) under which two glyph images look alike


@dataclass(frozen=True)
class FontFace:
    """One validated font face and where it comes from."""

    name: str
    family: str
    path: Path
    index: int
    sha256: str
    source: str

    def record(self) -> dict[str, Any]:
        """The manifest entry of this face."""
        return {"name": self.name, "family": self.family, "file": self.path.name,
                "path": str(self.path), "index": self.index, "sha256": self.sha256,
                "source": self.source}


@dataclass(frozen=True)
class Rejection:
    """A font file (face *index*) that was not used, and why."""

    path: Path
    index: int
    reason: str


@dataclass(frozen=True)
class FontCatalog:
    """The valid faces found (sorted by name) and the rejected ones."""

    faces: tuple[FontFace, ...]
    rejected: tuple[Rejection, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(face.name for face in self.faces)

    def get(self, name: str) -> FontFace:
        """The face called *name* (a :class:`groupsup.DataError` names the known ones)."""
        for face in self.faces:
            if face.name == name:
                return face
        raise gs.DataError(f"font {name!r} is not among the {len(self.faces)} valid fonts found"
                           f"{suggest(name, self.names)}; known fonts: {', '.join(self.names)}")

    def select(self, fonts: int | Sequence[str] | None = None) -> tuple[FontFace, ...]:
        """A deterministic choice of faces, sorted by name.

        ``None``: all of them. A count *n*: the first *n* of :meth:`diverse_order` (one face per
        family before a second style of any family). Names: exactly those faces.
        """
        if not self.faces:
            raise gs.DataError("no valid font faces found; install fonts (see the groupsup-fonts "
                               "README) or pass font files or folders explicitly")
        if fonts is None:
            return self.faces
        if isinstance(fonts, int):
            if not 1 <= fonts <= len(self.faces):
                raise gs.ConfigError(f"fonts: asked for {fonts} fonts, but "
                                     f"{len(self.faces)} valid fonts were found")
            chosen = self.diverse_order()[:fonts]
        else:
            if len(set(fonts)) != len(fonts):
                raise gs.ConfigError(f"fonts: a name appears twice in {list(fonts)}")
            chosen = tuple(self.get(name) for name in fonts)
        return tuple(sorted(chosen, key=lambda face: face.name))

    def diverse_order(self) -> tuple[FontFace, ...]:
        """Faces round-robin over families (sorted), each family's regular face first."""
        families: dict[str, list[FontFace]] = {}
        for face in self.faces:
            families.setdefault(face.family, []).append(face)
        for members in families.values():
            members.sort(key=lambda face: (face.name != face.family, face.name))
        rounds = max(len(members) for members in families.values())
        return tuple(families[family][r] for r in range(rounds) for family in sorted(families)
                     if r < len(families[family]))


def alnum(text: str) -> str:
    """Lower-case ASCII letters and digits of *text*."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def face_name(family: str, style: str) -> str:
    """``("DejaVu Serif", "Bold")`` -> ``"dejavuserifbold"``; regular styles add nothing."""
    style_key = alnum(style)
    return alnum(family) + ("" if style_key in REGULAR_STYLES else style_key)


def matplotlib_font_dir() -> Path | None:
    """``<matplotlib data>/fonts/ttf``, or ``None`` without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return None
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder if folder.is_dir() else None


def font_files(folder: Path) -> list[Path]:
    """Font files under *folder*, recursively, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in FONT_SUFFIXES
                  and p.is_file())


def system_font_files() -> list[Path]:
    """The system's font files: fontconfig's list, or the standard folders without it."""
    fc_list = shutil.which("fc-list")
    if fc_list is not None:
        try:
            listing = subprocess.run([fc_list, "-f", "%{file}\n"], capture_output=True,
                                     text=True, timeout=120, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            listing = None
        if listing is not None:
            return sorted({Path(line) for line in listing.splitlines()
                           if Path(line).suffix.lower() in FONT_SUFFIXES})
    files: set[Path] = set()
    for folder in SYSTEM_FONT_DIRS:
        path = Path(folder).expanduser()
        if path.is_dir():
            files.update(font_files(path))
    return sorted(files)


def explicit_font_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Font files named directly or found under named folders."""
    files: list[Path] = []
    for item in paths:
        path = Path(item).expanduser()
        if path.is_dir():
            found = font_files(path)
            if not found:
                raise gs.DataError(f"{path}: no font files ({', '.join(FONT_SUFFIXES)}) in "
                                   "this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise gs.DataError(f"{path}: font file or folder not found")
    return files


def _faces_in(path: Path) -> int:
    """How many faces the file holds (collections hold several)."""
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 1
    from fontTools.ttLib import TTCollection

    try:
        return len(TTCollection(str(path), lazy=True).fonts)
    except Exception:
        return 1  # validation reports the actual problem


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_face(path: Path, index: int = 0) -> tuple[str, str] | str:
    """Validate face *index* of *path*: ``(name, family key)`` when usable, else the reason."""
    return _check_face(str(path), index, *_stamp(path))


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4096)
def _check_face(path: str, index: int, mtime_ns: int, size: int) -> tuple[str, str] | str:
    from fontTools.ttLib import TTFont

    try:
        collection = Path(path).suffix.lower() in (".ttc", ".otc")
        ttfont = TTFont(path, fontNumber=index if collection else -1, lazy=True)
        try:
            names = ttfont["name"]
            family = names.getBestFamilyName() or Path(path).stem
            style = names.getBestSubFamilyName() or "Regular"
            cmap = ttfont.getBestCmap() or {}
        finally:
            ttfont.close()
    except Exception as err:
        return f"unreadable font ({type(err).__name__}: {err})"
    family_key = alnum(family)
    if not family_key:
        return f"family name {family!r} has no ASCII letters or digits to name it by"
    if SYMBOLIC_FAMILY.search(family_key):
        return f"symbol or math font (family {family!r})"
    missing = [ch for ch in LETTERS if ord(ch) not in cmap]
    if missing:
        shown = "".join(missing[:10]) + ("..." if len(missing) > 10 else "")
        return f"no glyphs for {len(missing)} of the 52 letters ({shown})"
    try:
        font = open_font(Path(path), index, VALIDATION_SIZE)
        masks = [ink_mask(font, ch) for ch in LETTERS]
        missing_box = ink_mask(font, "\U0010fffd")
    except Exception as err:
        return f"Pillow cannot render it ({type(err).__name__}: {err})"
    empty = [ch for ch, mask in zip(LETTERS, masks) if mask.size == 0]
    if empty:
        return f"empty glyphs for {''.join(empty)}"
    boxes = [ch for ch, mask in zip(LETTERS, masks) if _looks_alike(mask, missing_box)]
    if boxes:
        return f"glyphs for {''.join(boxes)} render as the missing-glyph box"
    distinct = len({_mask_key(mask) for mask in masks})
    if distinct < MIN_DISTINCT:
        return f"only {distinct} of the 52 letters render differently (need {MIN_DISTINCT})"
    return face_name(family, style), family_key


def _looks_alike(a: np.ndarray, b: np.ndarray) -> bool:
    """Same ink box and nearly the same coverage (FreeType may place glyph 0 a subpixel off)."""
    if a.shape != b.shape:
        return False
    return bool(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() < _ALIKE_LEVEL)


def _mask_key(mask: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    return mask.shape, mask.tobytes()


def discover_fonts(paths: Iterable[str | os.PathLike] = (), *, system: bool = True,
                   matplotlib: bool = True) -> FontCatalog:
    """Find, validate, deduplicate and name the font faces available for rendering."""
    candidates: list[tuple[Path, str]] = [(p, "explicit") for p in explicit_font_files(paths)]
    if matplotlib:
        folder = matplotlib_font_dir()
        candidates += [(p, "matplotlib") for p in font_files(folder)] if folder else []
    if system:
        candidates += [(p, "system") for p in system_font_files()]
    seen_files: set[Path] = set()
    faces: list[FontFace] = []
    rejected: list[Rejection] = []
    for path, source in candidates:
        real = path.resolve()
        if real in seen_files:
            continue
        seen_files.add(real)
        digest = file_sha256(path)
        for index in range(_faces_in(path)):
            verdict = check_face(path, index)
            if isinstance(verdict, str):
                rejected.append(Rejection(path, index, verdict))
                continue
            name, family = verdict
            faces.append(FontFace(name, family, path, index, digest, source))
    kept: dict[str, FontFace] = {}
    by_content: dict[tuple[str, int], FontFace] = {}
    # Candidates arrive in priority order (explicit, matplotlib, system; paths sorted within),
    # so the first face with a given content or name is the one kept.
    for face in faces:
        twin = by_content.get((face.sha256, face.index)) or kept.get(face.name)
        if twin is not None:
            why = "same file content" if twin.sha256 == face.sha256 else "same name"
            rejected.append(Rejection(face.path, face.index,
                                      f"{why} as {twin.path} ({twin.name}), which is kept"))
            continue
        kept[face.name] = face
        by_content[(face.sha256, face.index)] = face
    ordered = tuple(sorted(kept.values(), key=lambda face: face.name))
    return FontCatalog(ordered, tuple(sorted(rejected, key=lambda r: (str(r.path), r.index))))

"""``groupsup render-fonts``: render the Fonts dataset (or a subset) to a store or a tree."""

from __future__ import annotations

import argparse

import groupsup as gs
from groupsup_fonts.discovery import FontCatalog, discover_fonts
from groupsup_fonts.layout import NAMINGS
from groupsup_fonts.options import parse_letters
from groupsup_fonts.plan import RenderPlan
from groupsup_fonts.renderer import CENTRINGS, SIZINGS
from groupsup_fonts.schema import COLOUR_NAMES, SIZES
from groupsup_fonts.writers import LAYOUTS, render_folder, render_store


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fonts(text: str) -> int | list[str]:
    return int(text) if text.isdigit() else _names(text)


# --preset paper: the paper's rendering (80 / 100 / 120 px glyphs on 128 px, line-centred)
PRESETS: dict[str, dict[str, object]] = {
    "paper": {"image_size": 128, "sizing": "paper", "centring": "line"}}
DEFAULTS: dict[str, object] = {"image_size": 32, "sizing": "fit", "centring": "ink"}


def _apply_preset(args: argparse.Namespace) -> None:
    """Fill ``image_size``, ``sizing`` and ``centring``: explicit flags, else the preset's,
    else the defaults; a flag that contradicts the preset's rendering is an error."""
    preset = PRESETS.get(args.preset or "", {})
    for key, default in DEFAULTS.items():
        given = getattr(args, key)
        if given is None:
            setattr(args, key, preset.get(key, default))
        elif key != "image_size" and key in preset and given != preset[key]:
            raise gs.ConfigError(f"--preset {args.preset} renders with --{key} {preset[key]}; "
                                 f"drop --{key} {given} or the preset")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", nargs="?", help="output folder (store or tree)")
    parser.add_argument("--layout", choices=LAYOUTS, default="store",
                        help="store: one memory-mappable array (default); folder: the released "
                        "layout <letter>/<size>/<font_color>/<back_color>/<font>/*.png")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="paper: the paper's rendering, --image-size 128 --sizing paper "
                        "--centring line (an explicit --image-size still applies)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="image side in pixels (default 32; 128 with --preset paper)")
    parser.add_argument("--fonts", type=_fonts, default=None, metavar="N|NAMES",
                        help="how many fonts (one per family first) or comma-separated names; "
                        "default all valid fonts found")
    parser.add_argument("--font-dir", action="append", default=[], metavar="PATH",
                        help="extra font file or folder (repeatable)")
    parser.add_argument("--no-system-fonts", action="store_true",
                        help="ignore the system's fonts")
    parser.add_argument("--no-matplotlib-fonts", action="store_true",
                        help="ignore the fonts shipped with matplotlib")
    parser.add_argument("--letters", default="all",
                        help="all, upper, lower, or letters and ranges: A-J,a-c (default all)")
    parser.add_argument("--sizes", type=_names, default=list(SIZES),
                        help=f"comma-separated subset of {','.join(SIZES)}")
    parser.add_argument("--font-colors", type=_names, default=list(COLOUR_NAMES),
                        help=f"comma-separated subset of {','.join(COLOUR_NAMES)}")
    parser.add_argument("--back-colors", type=_names, default=list(COLOUR_NAMES),
                        help="comma-separated subset of the colours")
    parser.add_argument("--centring", choices=CENTRINGS, default=None,
                        help="ink: centre the glyph's ink box (default); line: centre the line "
                        "box like the reference code")
    parser.add_argument("--sizing", choices=SIZINGS, default=None,
                        help="fit: the largest glyph of each font fits with a 5%% margin "
                        "(default); paper: 80/100/120 px at 128 px, scaled")
    parser.add_argument("--workers", type=int, default=1, help="render processes (default 1)")
    parser.add_argument("--case-safe", action="store_true",
                        help="folder layout: name lower-case letters lower-a ... so the tree "
                        "survives case-insensitive file systems")
    parser.add_argument("--overwrite", action="store_true",
                        help="store layout: replace a store rendered with other options")
    parser.add_argument("--list-fonts", action="store_true",
                        help="list the valid and rejected fonts found, then stop")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _print_catalog(catalog: FontCatalog) -> None:
    print(f"{len(catalog.faces)} valid fonts:")
    for face in catalog.faces:
        index = f" #{face.index}" if face.index else ""
        print(f"  {face.name:36s} {face.source:10s} {face.path}{index}")
    print(f"{len(catalog.rejected)} rejected:")
    for rejection in catalog.rejected:
        index = f" #{rejection.index}" if rejection.index else ""
        print(f"  {rejection.path}{index}: {rejection.reason}")


def run(args: argparse.Namespace) -> int:
    _apply_preset(args)
    catalog = discover_fonts(args.font_dir, system=not args.no_system_fonts,
                             matplotlib=not args.no_matplotlib_fonts)
    if args.list_fonts:
        _print_catalog(catalog)
        return 0
    if args.out is None:
        raise gs.ConfigError("render-fonts: give the output folder OUT (or --list-fonts)")
    if args.workers < 1:
        raise gs.ConfigError(f"--workers must be at least 1, got {args.workers}")
    plan = RenderPlan(catalog.select(args.fonts), args.image_size,
                      letters=parse_letters(args.letters), sizes=tuple(args.sizes),
                      font_colors=tuple(args.font_colors), back_colors=tuple(args.back_colors),
                      centring=args.centring, sizing=args.sizing)
    fonts = ", ".join(face.name for face in plan.fonts)
    print(f"{len(plan)} images of {args.image_size}x{args.image_size} px: "
          f"{len(plan.letters)} letters x {len(plan.sizes)} sizes x "
          f"{len(plan.colour_pairs())} colour pairs x {len(plan.fonts)} fonts ({fonts})")
    if args.layout == "store":
        result = render_store(plan, args.out, workers=args.workers, progress=not args.quiet,
                              overwrite=args.overwrite)
    else:
        naming = NAMINGS[1] if args.case_safe else NAMINGS[0]
        result = render_folder(plan, args.out, workers=args.workers, progress=not args.quiet,
                               naming=naming)
    rate = result.rendered / result.seconds if result.seconds > 0 else 0.0
    print(f"rendered {result.rendered} images ({result.skipped} already there) in "
          f"{result.seconds:.1f} s ({rate:.0f} images/s, {args.workers} workers)")
    print(f"{result.layout}: {result.path}")
    print(f"manifest: {result.manifest}")
    return 0


COMMAND = gs.Command(
    help="render the Fonts dataset (or a subset) to a store or the released folder layout",
    configure=configure, run=run,
    description="Render one letter per image in 10 named colours on 10 backgrounds, 3 sizes and "
    "the fonts found (explicit, matplotlib's, the system's). Deterministic; interrupted renders "
    "resume. See docs/fonts.md.")

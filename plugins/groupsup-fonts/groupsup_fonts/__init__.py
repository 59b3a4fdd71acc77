"""groupsup-fonts: the Fonts dataset of GZS-Net (ICLR 2021) for groupsup.

A deterministic renderer (:class:`FontsRenderer`), font discovery (:func:`discover_fonts`),
render jobs to a store or the released folder layout (:class:`RenderPlan`,
:func:`render_store`, :func:`render_folder`), loaders (:func:`load_folder`,
:func:`load_store`, :func:`load_renderer`) and zero-shot splits (:func:`protocol_split`,
:func:`random_split`). The plugin registers the ``fonts`` dataset and the ``render-fonts``
command.
"""

from groupsup_fonts.discovery import FontCatalog, FontFace, Rejection, discover_fonts
from groupsup_fonts.loader import FolderScan, load_folder, load_renderer, load_store, scan_folder
from groupsup_fonts.options import FontsOptions, load_fonts, parse_letters
from groupsup_fonts.plan import RenderPlan
from groupsup_fonts.renderer import RENDERER_VERSION, FontsRenderer
from groupsup_fonts.schema import COLOUR_NAMES, COLOURS, LETTERS, SIZES, FontsSchema, fonts_schema
from groupsup_fonts.splits import protocol_allowances, protocol_rules, protocol_split, random_split
from groupsup_fonts.writers import RenderResult, render_folder, render_store

__version__ = "0.1.0"

__all__ = [
    "COLOURS",
    "COLOUR_NAMES",
    "LETTERS",
    "RENDERER_VERSION",
    "SIZES",
    "FolderScan",
    "FontCatalog",
    "FontFace",
    "FontsOptions",
    "FontsRenderer",
    "FontsSchema",
    "Rejection",
    "RenderPlan",
    "RenderResult",
    "__version__",
    "discover_fonts",
    "fonts_schema",
    "load_folder",
    "load_fonts",
    "load_renderer",
    "load_store",
    "parse_letters",
    "protocol_allowances",
    "protocol_rules",
    "protocol_split",
    "random_split",
    "render_folder",
    "render_store",
    "scan_folder",
]

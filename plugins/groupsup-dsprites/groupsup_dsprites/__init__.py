"""groupsup-dsprites: the dSprites dataset for groupsup, from its archive or rendered.

Registers the dataset ``dsprites`` (entry point ``groupsup_dsprites.plugin``).
"""

from groupsup_dsprites.factors import FACTORS, SHAPES, SIZES, select, select_all
from groupsup_dsprites.npz import FILE_NAME
from groupsup_dsprites.plugin import SPEC, DSprites, DSpritesOptions
from groupsup_dsprites.render import generate, position_px, rasterise

__all__ = [
    "FACTORS",
    "FILE_NAME",
    "SHAPES",
    "SIZES",
    "SPEC",
    "DSprites",
    "DSpritesOptions",
    "generate",
    "position_px",
    "rasterise",
    "select",
    "select_all",
]

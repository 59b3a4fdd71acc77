"""groupsup-rafd: the Radboud Faces Database for groupsup, read from its raw file names.

Registers the dataset ``rafd`` (entry point ``groupsup_rafd.plugin``) with an ``identity``
split.
"""

from groupsup_rafd.crop import CropBox
from groupsup_rafd.names import EXPRESSIONS, GAZES, POSES, FaceName, parse_name
from groupsup_rafd.plugin import (
    LAYOUT,
    PAPER_EXPRESSIONS,
    SPEC,
    RaFD,
    RaFDOptions,
    identity_split,
    scan,
)

__all__ = ["EXPRESSIONS", "GAZES", "LAYOUT", "PAPER_EXPRESSIONS", "POSES", "SPEC", "CropBox",
           "FaceName", "RaFD", "RaFDOptions", "identity_split", "parse_name", "scan"]

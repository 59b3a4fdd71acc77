"""groupsup-ilab: iLab-20M (the paper's iLab-6pose subset) for groupsup, read from its raw tree.

Registers the dataset ``ilab`` (entry point ``groupsup_ilab.plugin``).
"""

from groupsup_ilab.names import ImageName, parse_name
from groupsup_ilab.plugin import LAYOUT, PAPER_ROTATIONS, SPEC, ILab, ILabOptions, scan

__all__ = ["LAYOUT", "PAPER_ROTATIONS", "SPEC", "ILab", "ILabOptions", "ImageName", "parse_name",
           "scan"]

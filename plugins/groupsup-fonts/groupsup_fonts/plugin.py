"""groupsup hook implementations: the ``fonts`` and ``fonts-v2`` datasets, the ``artefacts``
measure of syntheses, ``render-fonts``, ``demo`` and ``reproduce``."""

from __future__ import annotations

from typing import Any

import groupsup as gs
from groupsup_fonts.artefacts import colour_artefacts
from groupsup_fonts.cli import COMMAND
from groupsup_fonts.demo import COMMAND as DEMO
from groupsup_fonts.options import FontsOptions, load_fonts
from groupsup_fonts.reproduce import COMMAND as REPRODUCE
from groupsup_fonts.schema import FontsSchema
from groupsup_fonts.splits import protocol_split, random_split
from groupsup_fonts.v2 import SPEC as V2

EXPECTS = ("root=: a tree <letter>/<size>/<font_color>/<back_color>/<font>/"
           "<letter>_<size>_<font_color>_<back_color>_<font>.png; store=: a store from "
           "`groupsup render-fonts --layout store`; neither: rendered into cache_dir")
DESCRIPTION = ("Fonts (GZS-Net paper): one letter per image; letter, size, font colour, "
               "background colour, font")

DATASET = gs.DatasetSpec(
    schema=FontsSchema, load=load_fonts, options_model=FontsOptions, expects=EXPECTS,
    description=DESCRIPTION, splits={"protocol": protocol_split, "random": random_split})
# the colour artefacts of syntheses, measured on the runs of ``fonts`` (whose colours it knows)
ARTEFACTS = gs.SynthesisMeasure(colour_artefacts, datasets=("fonts",))


@gs.hookimpl
def register_datasets(register: Any) -> None:
    register("fonts", DATASET, description=DESCRIPTION)
    register("fonts-v2", V2, description=V2.description)


@gs.hookimpl
def register_evaluations(register: Any) -> None:
    register("artefacts", ARTEFACTS, description="colour artefacts of the zero-shot syntheses "
             "(fonts runs): pixels of neither the font nor the background colour")


@gs.hookimpl
def register_commands(register: Any) -> None:
    register("render-fonts", COMMAND)
    register("demo", DEMO)
    register("reproduce", REPRODUCE)

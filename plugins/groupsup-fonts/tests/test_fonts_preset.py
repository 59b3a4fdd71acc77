"""``render-fonts --preset paper``: the paper's rendering (128 px, paper sizing, line centring)."""

from __future__ import annotations

import argparse

import pytest
from groupsup_fonts.cli import _apply_preset, configure

import groupsup as gs


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(["out", *argv])
    _apply_preset(args)
    return args


def test_preset_paper_renders_like_the_paper():
    args = _args("--preset", "paper")
    assert (args.image_size, args.sizing, args.centring) == (128, "paper", "line")
    assert _args("--preset", "paper", "--image-size", "64").image_size == 64
    plain = _args()
    assert (plain.image_size, plain.sizing, plain.centring) == (32, "fit", "ink")


def test_a_flag_contradicting_the_preset_is_refused():
    with pytest.raises(gs.ConfigError, match="--preset paper renders with --sizing paper; "
                                             "drop --sizing fit"):
        _args("--preset", "paper", "--sizing", "fit")

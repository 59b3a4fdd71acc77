"""Zero-shot splits of Fonts: the held-out protocol and random combination hold-out.

The protocol follows the paper authors' research code in spirit (restrict, per letter range,
which sizes / colours / fonts training sees; test on the unseen combinations), with a concrete
rule set of our own. The letters present are cut, in A–Z a–z order, into five ranges of
``n // 5`` letters (the last takes the rest); for the full 52 letters:

=========  ======================  ==================================================
letters    training sees only      held out (test)
=========  ======================  ==================================================
A–J        size medium             A–J at small and large
K–T        the first half of the   K–T in the other font colours
           font colours (red,
           orange, yellow, green,
           cyan)
U–Z, a–d   the second half of the  U–Z, a–d on the other backgrounds
           background colours
           (blue, purple, pink,
           chocolate, silver)
e–n        every other font (the   e–n in the other fonts
           1st, 3rd, ... by name)
o–z        everything              nothing
=========  ======================  ==================================================

So every value of every attribute is seen in training (the last range has them all), while
each (letter, value) pair of the test set never is: exactly the zero-shot setting, scored
against ground truth from :meth:`groupsup_fonts.FontsRenderer.render`. A restriction on an
attribute with a single value is dropped (nothing to hold out).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import groupsup as gs

PROTOCOL_RANGES = 5
RANDOM_FRACTION = 0.1


def letter_ranges(letters: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Five contiguous ranges: four of ``n // 5`` letters, the last with the rest."""
    if len(letters) < PROTOCOL_RANGES:
        raise gs.ConfigError(f"the Fonts protocol split needs at least {PROTOCOL_RANGES} "
                             f"letters, the dataset has {len(letters)}: {''.join(letters)}")
    q = len(letters) // PROTOCOL_RANGES
    cuts = [k * q for k in range(PROTOCOL_RANGES)] + [len(letters)]
    return [tuple(letters[a:b]) for a, b in itertools.pairwise(cuts)]


def protocol_allowances(schema: type[gs.Schema]
                        ) -> list[tuple[tuple[str, ...], str, list[str]]]:
    """``(letters, attribute, values training may see)`` for each restricted letter range."""
    ranges = letter_ranges(tuple(schema["letter"].values))
    sizes = list(schema["size"].values)
    font_colors = list(schema["font_color"].values)
    back_colors = list(schema["back_color"].values)
    fonts = list(schema["font"].values or ())
    middle_size = ["medium"] if "medium" in sizes else [sizes[len(sizes) // 2]]
    wanted = [
        (ranges[0], "size", middle_size, len(sizes)),
        (ranges[1], "font_color", font_colors[:(len(font_colors) + 1) // 2], len(font_colors)),
        (ranges[2], "back_color", back_colors[len(back_colors) // 2:], len(back_colors)),
        (ranges[3], "font", fonts[::2], len(fonts)),
    ]
    return [(letters, attribute, allowed) for letters, attribute, allowed, count in wanted
            if count > 1]


def protocol_rules(schema: type[gs.Schema]) -> list[gs.Rule]:
    """The protocol as :class:`groupsup.graph.Rule` s (see the module docstring)."""
    return [gs.Rule(when={"letter": list(letters)}, allow={attribute: list(allowed)})
            for letters, attribute, allowed in protocol_allowances(schema)]


def protocol_split(dataset: gs.GroupDataset, seed: int = 0) -> gs.Split:
    """The held-out protocol on *dataset* (deterministic; *seed* is not used)."""
    return gs.rule_split(dataset.labels, dataset.schema, protocol_rules(dataset.schema))


def random_split(dataset: gs.GroupDataset, seed: int = 0, fraction: float = RANDOM_FRACTION,
                 attributes: Sequence[str] | None = None) -> gs.Split:
    """Hold out a random *fraction* of the combinations present.

    By default combinations of all five attributes, which in Fonts are single images; with
    e.g. ``attributes=("letter", "font")`` whole (letter, font) pairs are held out.
    """
    return gs.random_combinations(dataset.labels, dataset.schema, fraction, seed, attributes)

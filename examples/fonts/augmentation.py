"""Data augmentation by GSL synthesis on an unbalanced Fonts training set (docs/method.md §4).

The experiment lives in the Fonts plugin (:mod:`groupsup_fonts.augmentation`, where its
docstring describes it) so that ``groupsup reproduce fonts`` runs it too; this is its command
line::

    python examples/fonts/augmentation.py --quick --out runs/augmentation   # a few CPU minutes
    python examples/fonts/augmentation.py --checkpoint runs/demo/run --out runs/augmentation
    python examples/fonts/augmentation.py --seeds 3 --jobs 2 --out runs/augmentation-full
"""

from __future__ import annotations

import sys

from groupsup_fonts.augmentation import main, missing_combinations, run_experiment

__all__ = ["main", "missing_combinations", "run_experiment"]

if __name__ == "__main__":
    sys.exit(main())

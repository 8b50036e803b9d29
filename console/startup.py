"""The cyclic garbage collector during the console's start-up.

From `import textual` to the first frame the console makes a few hundred thousand objects that
live as long as it does (modules, classes, Textual's parsed CSS, the widgets). At the default
gen-0 threshold (700 allocations) the collector walks them about 120 times before the first
frame, a third of the start-up on these machines. Until the first frame is drawn it runs rarely;
then as usual.
"""

from __future__ import annotations

import gc

STARTUP_GEN0_THRESHOLD = 50_000
_USUAL = gc.get_threshold()


def collect_rarely() -> None:
    gc.set_threshold(STARTUP_GEN0_THRESHOLD, *_USUAL[1:])


def collect_as_usual() -> None:
    gc.set_threshold(*_USUAL)

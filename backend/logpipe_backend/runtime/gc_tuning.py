"""The cyclic garbage collector's settings for the long-lived local processes: the server and the workers.

Each request (in the server) and each message (in a worker) holds thousands of records' dicts alive while it
is handled. With CPython's default threshold (700 young containers), every collection of the youngest
generation walked those live records again and moved them on to the older generations, whose collections
walk them once more: a visible part of both processes' CPU (figures: docs/performance.md). Nothing here
changes what is freed, only when.
"""

from __future__ import annotations

import gc
from typing import Final

# Young container objects between two collections of the youngest generation (CPython's default: 700). A
# worker's message of ~2,500 records was walked ~220 times per 80,000 records at 700, ~35 at 50,000. Memory:
# at most ~50,000 young containers (a few MB) wait for a collection, and objects in reference cycles are
# freed that much later.
GC_THRESHOLD: Final = 50_000


def tune_gc() -> None:
    """After start-up: what exists now (modules, the adapters) is never walked again by the cyclic GC, and the
    youngest generation is collected less often (GC_THRESHOLD)."""
    gc.collect()  # so that no garbage of the start-up is frozen with the rest
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)  # the older generations keep their thresholds

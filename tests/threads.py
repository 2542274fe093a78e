"""Running code in several threads at once, switching between them as often as the
interpreter allows, to bring races out."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


def race(work: Callable[[int], None], threads: int = 4) -> None:
    """Run ``work(0)`` … ``work(threads - 1)`` in as many threads, all at once, with the
    thread switch interval at a microsecond; return when all are done."""
    started = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in started:
            thread.start()
        for thread in started:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

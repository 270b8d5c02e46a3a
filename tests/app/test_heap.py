"""humanmatting.app.heap: freed C-heap pages go back to the system (issue 16, item 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from humanmatting.app import heap

# 300 MB in 100 kB buffers (below glibc's mapping threshold: they come from the heap), one
# in ten kept so that the heap's top cannot shrink on its own: the pages in between stay
# with the process until they are trimmed.
FRAGMENTED_HEAP = """
import time
from humanmatting.app import heap

def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

buffers = [b"x" * 100_000 for _ in range(3000)]
kept = buffers[::10]
del buffers
before = rss_mib()
thread = heap.keep_returning_freed_memory(interval_s=0.1)
time.sleep(1.0)
print(before, rss_mib(), thread is not None and thread.is_alive())
"""


@pytest.mark.skipif(heap._LIBC is None, reason="this C library has no malloc_trim (not glibc)")
def test_the_thread_returns_freed_heap_pages_to_the_system():
    result = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    before, after, alive = result.stdout.split()
    assert alive == "True"
    assert float(before) - float(after) > 200, result.stdout  # of the 270 MB freed


def test_without_malloc_trim_nothing_is_started(monkeypatch):
    monkeypatch.setattr(heap, "_LIBC", None)
    assert heap.return_freed_memory() is False
    assert heap.keep_returning_freed_memory() is None

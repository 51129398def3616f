"""``TreeRss``: the dlt peer's peak RSS counts its child processes with itself."""

from __future__ import annotations

import subprocess
import sys

import psutil

from benchmarks.workloads import TreeRss, peak_rss_mb

HOLD = "b = bytearray(300 * 2**20); import time; time.sleep(1.5)"


def test_memory_held_by_a_child_process_counts_in_the_tree_peak() -> None:
    before_mb = psutil.Process().memory_info().rss / 2**20
    with TreeRss(interval=0.02) as rss:
        subprocess.run([sys.executable, "-c", HOLD], check=True)
    # The child's 300 MB were resident while this process was too.
    assert rss.peak_mb >= before_mb + 250


def test_without_children_the_peak_is_at_least_this_process_peak() -> None:
    with TreeRss() as rss:
        pass
    assert rss.peak_mb >= peak_rss_mb() > 0

"""minigrad keeps freed CPU memory for reuse (minigrad/_cpu_memory.py): a training step's arrays are not
page-faulted in anew every step. Checked by counting page faults, never by timing."""
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the policy tunes glibc's malloc")

# Allocate and free a 40 MB array a few times after importing minigrad; print the page faults of the last three.
PROGRAM = """
import resource
import numpy as np
import minigrad
for i in range(5):
    if i == 2:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(10_000_000, np.float32)
    del a
print(minigrad.backend.CPU_CACHING, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def _run(caching: str):
    env = dict(os.environ, MINIGRAD_CPU_CACHING=caching)
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True)
    enabled, faults = out.stdout.split()
    return enabled == "True", int(faults)


def test_freed_arrays_are_reused_without_page_faults():
    enabled, faults = _run("1")
    assert enabled
    off, faults_off = _run("0")
    assert not off
    assert faults_off >= 3  # each fresh mapping faults in at least once (a few huge pages, or 9766 small ones)
    assert faults <= faults_off // 10, (faults, faults_off)

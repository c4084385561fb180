"""Both pipe readers return what either pipe delivers, without blocking on the other."""

from __future__ import annotations

import subprocess
import sys

import pytest

from onelazy.training.pipes import SelectorReader, ThreadReader

# 1 MiB on stdout while stderr stays silent, then 1 MiB on stderr: a reader that waited on one
# pipe would stall the child on the other.
CHILD = "import os\nfor fd in (1, 2):\n    for _ in range(16):\n        os.write(fd, b'y' * 65536)\n"


@pytest.mark.parametrize("reader_class", [SelectorReader, ThreadReader])
def test_reader_collects_both_pipes_to_the_end(reader_class: type[SelectorReader | ThreadReader]) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    reader = reader_class({"stdout": child.stdout, "stderr": child.stderr})
    received = {"stdout": 0, "stderr": 0}
    ended: list[str] = []
    try:
        while reader.open:
            for stream, data in reader.read(1.0):
                if data:
                    received[stream] += len(data)
                else:
                    ended.append(stream)
    finally:
        reader.close()
        child.stdout.close()
        child.stderr.close()
    assert child.wait(timeout=30) == 0
    assert received == {"stdout": 16 * 65536, "stderr": 16 * 65536}
    assert sorted(ended) == ["stderr", "stdout"]


@pytest.mark.parametrize("reader_class", [SelectorReader, ThreadReader])
def test_a_silent_pipe_times_out_quickly(reader_class: type[SelectorReader | ThreadReader]) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    reader = reader_class({"stdout": child.stdout, "stderr": child.stderr})
    try:
        assert reader.read(0.05) == [] and reader.open
    finally:
        reader.close()
        child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()

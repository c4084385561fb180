"""Run ``generate()`` and kill the process (``os._exit``, no cleanup) at one point of the write
sequence of the Nth image: the test then reruns and checks that nothing is lost or duplicated.

    python -m tests.generation.crash_driver CONFIG DATASET POINT N
"""

from __future__ import annotations

import os
import sys
from typing import Any

import onelazy._files as files_module
import onelazy.dataset.manifest as manifest
import onelazy.generation.runner as runner

KILLED = 9


def main() -> None:
    config, dataset, point, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    counts: dict[str, int] = {}

    def due(name: str) -> bool:
        counts[name] = counts.get(name, 0) + 1
        return counts[name] == nth

    real_write_bytes = runner.atomic_write_bytes
    real_replace = os.replace
    real_append = manifest.ManifestWriter.append

    def write_bytes(path: Any, data: bytes, **kwargs: Any) -> Any:
        if point == "after_caption" and due("image"):
            os._exit(KILLED)  # caption renamed into place, image not started
        return real_write_bytes(path, data, **kwargs)

    def replace(source: Any, target: Any) -> None:
        if point == "image_temp" and str(target).endswith(".png") and due("image"):
            os._exit(KILLED)  # image written and fsynced under its temporary name, not renamed
        real_replace(source, target)

    def append(self: Any, entry: Any) -> None:
        if point == "after_image" and due("append"):
            os._exit(KILLED)  # image renamed into place, no manifest line
        if point == "torn_manifest" and due("append"):
            import json

            data = (json.dumps(entry) + "\n").encode()
            os.write(self._fd, data[: len(data) // 2])
            os._exit(KILLED)  # half a manifest line
        real_append(self, entry)
        if point == "after_manifest" and due("after"):
            os._exit(KILLED)  # everything for this image done

    runner.atomic_write_bytes = write_bytes  # type: ignore[assignment]
    files_module.os.replace = replace  # type: ignore[assignment]
    manifest.ManifestWriter.append = append  # type: ignore[method-assign]
    runner.generate(config, dataset)


if __name__ == "__main__":
    main()

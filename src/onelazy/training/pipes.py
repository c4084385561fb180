"""Reading a child's stdout and stderr at once, without ever blocking on one of them.

A child that fills one pipe while the reader waits on the other stalls; a child that prints
nothing must not make the reader deaf to Ctrl+C. Both readers here return whatever arrived on
either pipe within a timeout. POSIX uses one ``selectors`` loop (no threads, so the child can be
started with ``preexec_fn`` safely); Windows, where ``select`` does not take pipes, uses one
blocking reader thread per pipe feeding a queue.
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import threading
from typing import IO, Protocol

from onelazy.training.events import StreamName

READ_SIZE = 64 * 1024


class PipeReader(Protocol):
    """Chunks from several pipes; ``b""`` for a stream means it reached its end."""

    @property
    def open(self) -> bool: ...

    def read(self, timeout: float) -> list[tuple[StreamName, bytes]]: ...

    def close(self) -> None: ...


class SelectorReader:
    """Non-blocking reads of several pipes from one ``select`` loop (POSIX)."""

    def __init__(self, pipes: dict[StreamName, IO[bytes]]) -> None:
        self._selector = selectors.DefaultSelector()
        self._names: dict[int, StreamName] = {}
        for name, pipe in pipes.items():
            fd = pipe.fileno()
            os.set_blocking(fd, False)
            self._names[fd] = name
            self._selector.register(fd, selectors.EVENT_READ)

    @property
    def open(self) -> bool:
        return bool(self._names)

    def read(self, timeout: float) -> list[tuple[StreamName, bytes]]:
        chunks: list[tuple[StreamName, bytes]] = []
        for key, _ in self._selector.select(timeout=timeout):
            fd = int(key.fd)
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self._selector.unregister(fd)
                chunks.append((self._names.pop(fd), b""))
            else:
                chunks.append((self._names[fd], data))
        return chunks

    def close(self) -> None:
        self._selector.close()


class ThreadReader:
    """One blocking reader thread per pipe, feeding a queue (for Windows)."""

    def __init__(self, pipes: dict[StreamName, IO[bytes]]) -> None:
        self._queue: queue.Queue[tuple[StreamName, bytes]] = queue.Queue(maxsize=256)
        self._open = len(pipes)
        for name, pipe in pipes.items():
            thread = threading.Thread(target=self._pump, args=(name, pipe.fileno()), daemon=True)
            thread.start()

    def _pump(self, name: StreamName, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, READ_SIZE)
            except OSError:
                data = b""
            self._queue.put((name, data))
            if not data:
                return

    @property
    def open(self) -> bool:
        return self._open > 0

    def read(self, timeout: float) -> list[tuple[StreamName, bytes]]:
        chunks: list[tuple[StreamName, bytes]] = []
        with contextlib.suppress(queue.Empty):
            chunks.append(self._queue.get(timeout=timeout))
            while len(chunks) < 64:
                chunks.append(self._queue.get_nowait())
        self._open -= sum(1 for _, data in chunks if not data)
        return chunks

    def close(self) -> None:
        """The threads end when their pipes are closed; they are daemons in any case."""

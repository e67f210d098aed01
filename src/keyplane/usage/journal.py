"""The usage journal: every metered call appended to a file before its answer ends.

One journal per process, in ``<data dir>/journal/``::

    j<16 hex>.lock          held with flock(2) while the process lives
    j<16 hex>.<seq>.log     segments: one line per call, appended with one write(2)

A write lands in the page cache, which outlives the process, so ``kill -9`` loses nothing;
a background task fsyncs at least every ``fsync_seconds``, so a machine crash loses at most
that much. The meter seals the open segment when it flushes: the segment's lines are then
exactly that flush's batch, and its name is the batch id, so a replayed segment whose batch
had already been committed is recognised and not added twice. A written batch's segment is
deleted: the journal holds only what the store may not have yet.

Names are random per process, so no two processes (instances, workers) ever share one. A
journal whose lock nobody holds belongs to a process that is gone; any process of the same
data dir adopts it, at start and then every little while, and flushes it as its own.
Files are 0600, the directory 0700: usage says who called what.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

_FILE_MODE = 0o600
_LOCK = ".lock"
_SEGMENT = ".log"


@dataclass(frozen=True, slots=True)
class Segment:
    """One sealed file of a journal; ``batch_id`` names its batch in ``usage_batches``."""

    path: Path
    batch_id: str


@dataclass(slots=True)
class Orphan:
    """The journal of a process that is gone, locked by us while we replay it."""

    name: str
    lock_path: Path | None
    lock_fd: int | None
    segments: list[Segment]
    left: int = field(init=False)

    def __post_init__(self) -> None:
        self.left = len(self.segments)

    def done(self, segment: Segment) -> None:
        """``segment`` is in the store: delete it, and the lock once nothing is left."""
        segment.path.unlink(missing_ok=True)
        self.left -= 1
        if self.left <= 0:
            self.release()

    def release(self) -> None:
        if self.lock_path is not None:
            self.lock_path.unlink(missing_ok=True)
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


def read_lines(path: Path) -> Iterator[bytes]:
    """The complete lines of a segment, without their newline; a torn last line (a machine
    crash) is left out.

    The file is read in one call. Read line by line in a thread, each buffer refill releases
    and retakes the GIL so quickly that the event loop waiting for it never gets it: a 4 MB
    segment held the loop for 40-140 ms, against the interpreter's 5 ms switch interval."""
    *lines, torn = path.read_bytes().split(b"\n")
    if torn.strip(b"\0 "):
        logger.warning("usage journal %s ends in a torn line; it is skipped", path.name)
    yield from lines


class Journal:
    """One process's append-only journal; ``open`` it before the first ``append``."""

    def __init__(self, directory: Path, *, fsync_seconds: float = 1.0) -> None:
        self.directory = directory
        self.fsync_seconds = fsync_seconds
        self.name = "j" + secrets.token_hex(8)
        self._seq = 0
        self._fd = -1
        self._path = Path()
        self._lock_fd = -1
        self._retired: list[int] = []  # sealed segments' descriptors, closed after their fsync
        self._dirty = False
        self._new_files = False
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    @property
    def lock_path(self) -> Path:
        return self.directory / f"{self.name}{_LOCK}"

    def open(self) -> None:
        """Take this journal's lock and open its first segment."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Locked under a temporary name, then renamed: no other process can see the lock file
        # before it is held, and take it for an orphan's.
        temporary = self.directory / f".{self.name}.tmp"
        self._lock_fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        temporary.rename(self.lock_path)
        self._open_segment()

    def _open_segment(self) -> None:
        self._seq += 1
        self._path = self.directory / f"{self.name}.{self._seq:08d}{_SEGMENT}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self._path, flags, _FILE_MODE)
        self._new_files = True

    def append(self, line: bytes) -> None:
        """One call's line, in one write(2): durable in the page cache when this returns."""
        os.write(self._fd, line)
        self._dirty = True

    def seal(self) -> Segment:
        """Close the open segment for writing and open the next; the sealed one is returned."""
        sealed = Segment(self._path, f"{self.name}.{self._seq}")
        self._retired.append(self._fd)
        self._open_segment()
        return sealed

    def discard(self, segment: Segment) -> None:
        """``segment``'s batch is in the store; it is not needed any more."""
        segment.path.unlink(missing_ok=True)

    def size(self) -> int:
        """Bytes in the open segment."""
        return os.fstat(self._fd).st_size

    def replace_open_segment(self, lines: list[bytes]) -> None:
        """Rewrite the open segment as ``lines`` (the same totals, compacted); durable first."""
        temporary = self._path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, _FILE_MODE)
        try:
            os.write(fd, b"".join(lines))
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(self._path)
        self._retired.append(self._fd)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self._path, flags)
        self._new_files = True

    # --- fsync ---

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-journal-fsync")

    async def _run(self) -> None:
        # Not cancelled at close: a sync cut short would leave its thread using descriptors
        # that close() is about to close.
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.fsync_seconds)
            try:
                await self.sync()
            except OSError:
                logger.exception("could not fsync the usage journal")

    async def sync(self) -> None:
        """fsync what was written since the last sync, off the event loop."""
        if not (self._dirty or self._retired or self._new_files):
            return
        current, retired, new_files = self._fd, self._retired, self._new_files
        self._retired, self._dirty, self._new_files = [], False, False
        await asyncio.to_thread(self._fsync, current, retired, new_files)

    def _fsync(self, current: int, retired: list[int], new_files: bool) -> None:
        for fd in retired:
            with contextlib.suppress(OSError):
                os.fsync(fd)
            os.close(fd)
        os.fsync(current)
        if new_files:  # a new file's name is durable once its directory is synced
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    async def close(self, *, empty: bool) -> None:
        """Stop syncing, sync, close. When ``empty`` (all flushed) the files go too."""
        self._closing.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._fd < 0:
            return
        self._dirty = True
        await self.sync()
        os.close(self._fd)
        self._fd = -1
        if empty:
            self._path.unlink(missing_ok=True)
            self.lock_path.unlink(missing_ok=True)
        os.close(self._lock_fd)  # a journal left behind is unlocked: the next start adopts it

    # --- journals of processes that are gone ---

    def orphans(self) -> list[Orphan]:
        """Journals in the directory that no live process holds, each locked for us now."""
        found: list[Orphan] = []
        names: set[str] = set()
        for lock_path in sorted(self.directory.glob(f"*{_LOCK}")):
            name = lock_path.name.removesuffix(_LOCK)
            names.add(name)
            if name == self.name:
                continue
            orphan = self._take(lock_path, name)
            if orphan is not None:
                found.append(orphan)
        # Segments without a lock: an adopter died while deleting them. Replaying them again
        # is safe, since a batch already in the store is recognised by its id.
        for name in sorted({path.name.split(".", 1)[0] for path in self._segment_paths("j*")}):
            if name not in names:
                found.append(Orphan(name, None, None, self._segments_of(name)))
        return found

    def _take(self, lock_path: Path, name: str) -> Orphan | None:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return None  # adopted and cleaned up by someone else meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None  # its process is alive
        logger.info("adopting the usage journal %s of a process that is gone", name)
        return Orphan(name, lock_path, fd, self._segments_of(name))

    def _segment_paths(self, name: str) -> list[Path]:
        return sorted(self.directory.glob(f"{name}.*{_SEGMENT}"))

    def _segments_of(self, name: str) -> list[Segment]:
        segments = []
        for path in self._segment_paths(name):
            seq = path.name.removesuffix(_SEGMENT).rsplit(".", 1)[-1]
            segments.append(Segment(path, f"{name}.{int(seq)}"))
        return segments

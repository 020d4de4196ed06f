"""The index's folder, whose segment files are read through memory maps without copying them.

Whoosh keeps each segment in one compound file and, when it may use mmap, maps that file and
opens the files inside it as `BytesIO(memoryview)`, which copies each of them into the heap:
a searcher held a private copy of every segment's postings and term index (about 40 MB at
100,000 posts), and a new one was made after every index commit. Here each file inside a
segment is a memory map of its own byte range instead: nothing is copied, reads and seeks run
in C as before, only the pages a search touches are read in, and they stay in the page cache,
shared by every process and given back under memory pressure.

A segment's windows are mapped from the descriptor its compound file was opened with, never
from its name again: another process's commit deletes the files of the segments it merged
away, and a reader that opened one before must still read the parts it maps later (a column,
stored fields). An unlinked file lives on while a descriptor or a map holds it.
"""

from __future__ import annotations

import mmap
import os
import weakref
from typing import Any, BinaryIO, Literal, cast

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import BufferFile, StructFile

COMPOUND_EXT = ".seg"  # whoosh.codec.base.Segment.COMPOUND_EXT


class IndexStorage(FileStorage):
    """A FileStorage whose compound segment files hand out mapped windows."""

    def __init__(self, path: str, readonly: bool = False) -> None:
        # Without mmap, Whoosh asks the compound file for `subset()`s, which map themselves.
        super().__init__(path, supports_mmap=False, readonly=readonly)

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        if name.endswith(COMPOUND_EXT):
            return _CompoundFile(self._fpath(name), name, **kwargs)
        return super().open_file(name, **kwargs)


def _map(fd: int, start: int = 0, length: int = 0) -> mmap.mmap:
    return mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=start)


class _CompoundFile(StructFile):
    """A segment's compound file: Whoosh reads its directory, then asks for subsets."""

    def __init__(self, path: str, name: str, **kwargs: Any) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        # Closed with the file, or when a reader that is never closed is collected.
        self._fd_closer = weakref.finalize(self, os.close, fd)
        try:
            super().__init__(_Window.file(_map(fd), 0), name=name, **kwargs)
        except BaseException:
            self._fd_closer()
            raise
        self._fd = fd

    def subset(self, offset: int, length: int, name: str | None = None) -> StructFile:
        name = name or self._name
        if length <= 0:
            return BufferFile(b"", name=name)
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        return _WindowFile(_map(self._fd, start, offset + length - start), offset - start, name)

    def close(self) -> None:
        super().close()
        self._fd_closer()  # (the maps handed out keep their own descriptors)


class _Window:
    """A read-only file over a map that starts `base` bytes before the file does."""

    __slots__ = ("_map", "_base", "read", "readline")

    def __init__(self, mapped: mmap.mmap, base: int) -> None:
        self._map = mapped
        self._base = base
        # The map ends where the file ends, so reads stop there; they run in C.
        self.read = mapped.read
        self.readline = mapped.readline
        mapped.seek(base)

    @classmethod
    def file(cls, mapped: mmap.mmap, base: int) -> BinaryIO:
        """The window, as the binary file StructFile takes (it reads, seeks and tells)."""
        return cast(BinaryIO, cls(mapped, base))

    def seek(self, position: int, whence: Literal[0, 1, 2] = 0) -> int:
        if whence == 0:
            position += self._base
        self._map.seek(position, whence)
        return self.tell()

    def tell(self) -> int:
        return self._map.tell() - self._base

    def close(self) -> None:
        self._map.close()


class _WindowFile(StructFile):
    def __init__(self, mapped: mmap.mmap, base: int, name: str | None) -> None:
        super().__init__(_Window.file(mapped, base), name=name)
        self._map = mapped
        self._base = base

    def get(self, position: int, length: int) -> bytes:
        start = self._base + position
        return self._map[start : start + length]

    def subset(self, offset: int, length: int, name: str | None = None) -> StructFile:
        return BufferFile(self.get(offset, length), name=name or self._name)

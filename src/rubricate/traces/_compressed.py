"""Decompressed bytes of a .gz or .zst file that keep everything before the damage.

Python's gzip module and zstandard's stream reader lose what they decoded in the read call that
meets damage (a truncated file yields nothing when it is small), and zstandard's reader ends
silently inside a truncated frame. This stream hands out every byte it could decode first, and
raises only from the next read: EOFError for a file that ends inside a member or frame, ValueError
for corrupt data. Read it with `readinto1`/`read1`/`readline` to get the bytes before the error.
"""

from __future__ import annotations

import io
import zlib
from typing import IO, Any

CHUNK = 1 << 16  # compressed bytes fed at a time (bounded memory; a corrupt chunk is re-fed byte by byte)


class Decompressed(io.RawIOBase):
    """A raw stream of the decompressed content of `f` (any number of members or frames)."""

    def __init__(self, f: IO[bytes], codec: str) -> None:
        self._file, self._codec = f, codec
        self._obj = self._new()
        self._in_member = False
        self._out = memoryview(b"")
        self._error: Exception | None = None

    def _new(self) -> Any:
        if self._codec == "gz":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while not self._out:
            if self._error is not None:
                raise self._error
            data = self._file.read(CHUNK)
            if not data:
                if self._in_member:
                    self._error = EOFError(f"{self._codec} file ends inside a "
                                           f"{'member' if self._codec == 'gz' else 'frame'} (truncated)")
                    continue
                return 0
            self._out = memoryview(self._feed(data))
        n = min(len(buf), len(self._out))
        buf[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _feed(self, data: bytes) -> bytes:
        """What `data` decodes to; on damage, what came before it (the error is raised by the next read)."""
        out: list[bytes] = []
        while data:
            if not self._in_member and not data.strip(b"\0"):  # zero padding after the last member
                break
            self._in_member = True
            saved = self._obj.copy() if self._codec == "gz" else None
            try:
                out.append(self._obj.decompress(data))
            except Exception as exc:  # zlib.error, zstandard.ZstdError
                if saved is not None:
                    out.append(_salvage(saved, data))
                self._error = ValueError(f"{self._codec}: corrupt data: {exc}")
                break
            if not self._obj.eof:
                break
            data, self._obj, self._in_member = self._obj.unused_data, self._new(), False
        return b"".join(out)

    def close(self) -> None:
        self._file.close()
        super().close()


def _salvage(obj: Any, data: bytes) -> bytes:
    """Output of `data` fed one byte at a time up to the byte that fails (only after an error)."""
    out = []
    for i in range(len(data)):
        try:
            out.append(obj.decompress(data[i:i + 1]))
        except zlib.error:
            break
    return b"".join(out)

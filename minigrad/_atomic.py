"""Atomic file writes: a crash, a full disk or a bad checksum never leaves a half-written file behind."""
from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Yield a temporary file beside ``path``; on success it is fsynced and renamed onto ``path``, on any
    failure (exceptions and KeyboardInterrupt alike) it is removed and ``path`` is left as it was."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # beside the target: os.replace is an atomic rename only within one filesystem
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & umask: a normal file's permissions
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

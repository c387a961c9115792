"""Atomic file writes: a crash, a full disk or a bad checksum never leaves a half-written file behind.

The data goes to a hidden temp file beside the target, ``.NAME.PID.TOKEN.part``, which is fsynced and
renamed over the target. A process killed mid-write cannot remove its temp file, so every write first
deletes the stale temp files of the same target: those whose writer (the PID in the name) is gone.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import threading

_in_progress: set[str] = set()  # this process's own temp files, which are never stale
_lock = threading.Lock()


def _temp_pattern(name: str) -> re.Pattern:
    # exact: the temp files of "ck.pt" must not match those of "ck" or "ck.pt.bak"; the PID is absent
    # in names written before it was added
    return re.compile(rf"\.{re.escape(name)}\.(?:(\d+)\.)?[0-9a-f]{{12}}\.part")


def _writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: another user's live process
        return True
    return True


def remove_stale_temp_files(path) -> list[str]:
    """Delete leftover temp files of ``path`` from interrupted writes; returns the names removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = _temp_pattern(os.path.basename(path))
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed  # the write itself will report the problem with the directory
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        full = os.path.join(directory, name)
        pid = match.group(1)
        with _lock:
            live = full in _in_progress or (pid is not None and int(pid) != os.getpid() and _writer_alive(int(pid)))
        if not live:
            with contextlib.suppress(OSError):
                os.unlink(full)
                removed.append(name)
    return removed


def _named(error: OSError, path: str) -> OSError:
    """The same OSError, naming the target the user gave rather than our temp file."""
    return type(error)(error.errno, error.strerror, path)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Yield a temporary file beside ``path``; on success it is fsynced and renamed onto ``path``, on any
    failure (exceptions and KeyboardInterrupt alike) it is removed and ``path`` is left as it was."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temp_files(path)
    # beside the target: os.replace is an atomic rename only within one filesystem
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(6)}.part")
    with _lock:
        _in_progress.add(tmp)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # & umask: a normal file's mode
        except OSError as e:  # a missing or read-only directory: say which file the user was writing
            raise _named(e, path) from None
        try:
            with os.fdopen(fd, mode) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise _named(e, path) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    finally:
        with _lock:
            _in_progress.discard(tmp)
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

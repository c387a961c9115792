"""Plain-text corpora for character-level language models: the Jargon File.

The Jargon File (version 4.4.7, 2003, edited by Eric S. Raymond) is in the public domain: "This document
(the Jargon File) is in the public domain, to be freely used, shared, and modified." About 1.7 million
characters of English prose, enough for a character-level model to learn words, punctuation and layout.

Where it comes from, in order:
  1. Debian's ``jargon-text`` package (``apt-get install jargon-text``): a UTF-8 text rendering of the
     upstream HTML, installed as /usr/share/doc/jargon-text/jargon.txt.gz.
  2. ``ROOT/JargonFile/jarg447.txt`` (ROOT: ``root=``, else $MINIGRAD_DATA, else ~/.cache/minigrad), the
     editor's own plain-text edition, downloaded there on request from its home or the Internet Archive's
     copy, checked against the SHA-512 that Arch Linux's AUR dict-jargon package publishes for that file.
The two editions differ in layout (so in character set and length) but hold the same entries.
"""
from __future__ import annotations

import contextlib
import gzip
import os
from pathlib import Path

from .mnist import DatasetNotFoundError, default_root, download_url

JARGON_SYSTEM_PATHS = ("/usr/share/doc/jargon-text/jargon.txt.gz",)  # Debian's jargon-text
JARGON_FILE = "jarg447.txt"
JARGON_MIRRORS = ("http://www.catb.org/~esr/jargon/oldversions/",
                  "https://web.archive.org/web/2020id_/http://www.catb.org/~esr/jargon/oldversions/")
JARGON_SHA512 = ("4fe8c3a4b505ac936b61c46e4f7b8d0988a1a004ad187f53f16e7542b615c7cf"
                 "551cf48a486454845c56fe5c036c8adc29eecb4610df9989caa1a761c6240c46")


def read_text(path: os.PathLike) -> str:
    """A text file's contents, gunzipped if it ends in .gz; undecodable bytes become U+FFFD, not an error."""
    path = Path(path)
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8", errors="replace")


def jargon_file(root: os.PathLike | None = None, download: bool = False) -> tuple[str, Path]:
    """(text, path) of the Jargon File: Debian's installed copy, a local copy under ``root``, or a download."""
    folder = (Path(root).expanduser() if root is not None else default_root()) / "JargonFile"
    candidates = [*map(Path, JARGON_SYSTEM_PATHS), folder / JARGON_FILE]
    for path in candidates:
        if path.is_file():
            return read_text(path), path
    failures = []
    if download:
        created = [p for p in (folder, *folder.parents) if not p.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for mirror in JARGON_MIRRORS:
                try:
                    download_url(mirror + JARGON_FILE, folder / JARGON_FILE, JARGON_SHA512, algorithm="sha512")
                    return read_text(folder / JARGON_FILE), folder / JARGON_FILE
                except Exception as e:  # any failure: record it and try the next mirror
                    failures.append(f"{mirror + JARGON_FILE}: {type(e).__name__}: {e}")
        except OSError as e:
            failures.append(f"cannot create the download folder {folder}: {e}")
        with contextlib.suppress(OSError):  # leave the cache as we found it
            for p in created:
                p.rmdir()
    lines = ["The Jargon File was not found. Looked for:", *(f"  {p}" for p in candidates)]
    if failures:
        lines += ["Download failed:", *(f"  {f}" for f in failures)]
    else:
        lines.append(f"Download was not requested (it would try {', '.join(m + JARGON_FILE for m in JARGON_MIRRORS)}).")
    lines.append("To fix: `apt-get install jargon-text` (Debian/Ubuntu), or allow the download, or put "
                 f"{JARGON_FILE} into {folder}.")
    raise DatasetNotFoundError("\n".join(lines))

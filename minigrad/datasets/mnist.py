"""MNIST and Fashion-MNIST as in torchvision.datasets: read local IDX files, or download with checksums."""
from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

import minigrad
from minigrad._atomic import atomic_write
from minigrad.transforms import is_batched
from minigrad.utils.data import Dataset

from .idx import read_idx_pair


class DatasetNotFoundError(RuntimeError):
    """A dataset's files are in none of the searched folders and could not be downloaded."""


def default_root() -> Path:
    """The data cache: ``$MINIGRAD_DATA`` if set, else ``~/.cache/minigrad``."""
    return Path(os.environ.get("MINIGRAD_DATA") or Path.home() / ".cache" / "minigrad").expanduser()


def _fetch(url: str):
    """Open `url` for reading; module-level so tests can replace it (or urllib.request.urlopen)."""
    request = urllib.request.Request(url, headers={"User-Agent": "minigrad"})
    return urllib.request.urlopen(request, timeout=30)


def download_url(url: str, path: Path, md5: str, progress: bool = True, algorithm: str = "md5") -> None:
    """Download `url` to `path` via a temp file in the same folder, checking its digest (md5, or the hashlib
    `algorithm` a source publishes, e.g. sha512); nothing is left on failure."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with atomic_write(path) as f, contextlib.closing(_fetch(url)) as response:
        length = getattr(response, "headers", {}).get("Content-Length")
        with tqdm(total=int(length) if length else None, unit="B", unit_scale=True, leave=False,
                  desc=path.name, disable=not progress) as bar:
            while chunk := response.read(1 << 20):
                f.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        if digest.hexdigest() != md5:  # raised inside atomic_write: the download is discarded
            raise RuntimeError(f"checksum mismatch: {algorithm} {digest.hexdigest()}, expected {md5}")


class MNIST(Dataset):
    """The MNIST digits (torchvision.datasets.MNIST's twin); a sample is (transform(uint8 28×28 Tensor), int)."""

    mirrors: Sequence[str] = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                              "http://yann.lecun.com/exdb/mnist/")
    # torchvision's published md5s of the .gz files; checked on download only, since distributions
    # (e.g. Debian's dataset-fashion-mnist) recompress the same IDX content with different bytes
    resources: Sequence[tuple[str, str]] = (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    )
    classes: list[str] = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
                          "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    system_dirs: Sequence[str] = ()  # searched after root, e.g. where a distribution package installs

    def __init__(self, root: os.PathLike | None = None, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        files = self._find_files()
        if files is None:
            files = self._download() if download else self._not_found([])
        images, labels = read_idx_pair(*files)
        self.files = files
        self.data = minigrad.from_numpy(images)
        self.targets = minigrad.from_numpy(labels)

    @property
    def raw_folder(self) -> Path:
        """torchvision's layout: ``root/<ClassName>/raw``."""
        return self.root / type(self).__name__ / "raw"

    @property
    def split(self) -> str:
        return "train" if self.train else "t10k"

    @property
    def file_names(self) -> tuple[str, str]:
        return f"{self.split}-images-idx3-ubyte", f"{self.split}-labels-idx1-ubyte"

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    def search_dirs(self) -> list[Path]:
        """Folders searched in order: torchvision's raw folder, root itself (a flat folder), system dirs."""
        return [self.raw_folder, self.root, *map(Path, self.system_dirs)]

    def _find_files(self) -> tuple[Path, Path] | None:
        for folder in self.search_dirs():
            found = [next((folder / (name + ext) for ext in ("", ".gz") if (folder / (name + ext)).is_file()),
                          None) for name in self.file_names]
            if all(found):
                return found[0], found[1]
        return None

    def _download(self) -> tuple[Path, Path]:
        failures: list[str] = []
        folder = self.raw_folder
        md5s = dict(self.resources)
        created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self._not_found([f"cannot create the download folder {folder}: {e}"])
        for name in self.file_names:
            path = folder / (name + ".gz")
            if path.is_file():
                continue
            for mirror in self.mirrors:
                try:
                    download_url(mirror + path.name, path, md5s[path.name])
                    break
                except Exception as e:  # any failure: record it and try the next mirror
                    failures.append(f"{mirror + path.name}: {type(e).__name__}: {e}")
            else:
                with contextlib.suppress(OSError):  # leave the cache as we found it
                    for p in created:
                        p.rmdir()
                self._not_found(failures)
        return folder / (self.file_names[0] + ".gz"), folder / (self.file_names[1] + ".gz")

    def _not_found(self, failures: list[str]):
        name, split = type(self).__name__, "training" if self.train else "test"
        files = " and ".join(f"{n}[.gz]" for n in self.file_names)
        lines = [f"{name} {split} set not found. Searched these folders for {files}:"]
        lines += [f"  {d}" for d in self.search_dirs()]
        if failures:
            lines.append("Download failed:")
            lines += [f"  {f}" for f in failures]
            fix = "check the internet connection (or proxy settings), or"
        else:
            urls = ", ".join(m + self.file_names[0] + ".gz" for m in self.mirrors)
            lines.append(f"Download was not requested (download=True would try {urls}).")
            fix = "pass download=True with internet access, or"
        lines.append(f"To fix: {fix} copy the four IDX files (.gz or uncompressed) into a folder and pass "
                     "it as root=... (or set MINIGRAD_DATA=/that/folder).")
        raise DatasetNotFoundError("\n".join(lines))

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.targets.array[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices: np.ndarray) -> list | None:
        """[images, targets] for `indices` by fancy indexing, when the transforms can take a batch."""
        if self.target_transform is not None or not is_batched(self.transform):
            return None
        images = self.data[indices]
        return [images if self.transform is None else self.transform(images), self.targets[indices]]

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST, a drop-in replacement for MNIST; also found in Debian's install folder."""

    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    resources = (
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    )
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
               "Shirt", "Sneaker", "Bag", "Ankle boot"]
    system_dirs = ("/usr/share/datasets/fashion-mnist",)  # Debian's dataset-fashion-mnist package

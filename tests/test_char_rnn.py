"""examples/char_rnn.py end to end on a tiny generated text, its resume, and the corpus loader it uses."""
from __future__ import annotations

import gzip
import hashlib
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad
from minigrad.datasets import DatasetNotFoundError
from minigrad.datasets import mnist as mnist_module
from minigrad.datasets import text as text_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import char_rnn  # noqa: E402

TINY = ["--embed", "8", "--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "16",
        "--lr", "0.01", "--sample-chars", "40", "--prime", "ab"]


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory) -> Path:
    """A few thousand characters with learnable structure: short words cycling through a fixed order."""
    words = ["abc", "bca", "cab", "aab", "bba"]
    rng = np.random.default_rng(0)
    lines = [" ".join(words[(i + j) % 5] for j in range(rng.integers(3, 7))) + "." for i in range(200)]
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run(capsys, *argv) -> str:
    assert char_rnn.main([*map(str, argv)]) == 0
    return capsys.readouterr().out


def epoch_losses(out: str) -> list[float]:
    return [float(line.split("train loss ")[1].split()[0]) for line in out.splitlines() if "train loss" in line]


def sampled(out: str) -> list[str]:
    return re.findall(r"--- sample \(temperature 0\.8\) ---\n(.*?)\n---\n", out, re.S)


def test_trains_reports_perplexity_and_samples(tiny_text, tmp_path, capsys):
    save = tmp_path / "ck.npz"
    out = run(capsys, "--text", tiny_text, "--epochs", 2, "--save", save, *TINY)
    losses = epoch_losses(out)
    assert len(losses) == 2 and losses[1] < losses[0] < np.log(7)  # 7 symbols: better than uniform guessing
    assert "perplexity" in out and "validation loss" in out
    samples = sampled(out)
    assert len(samples) == 2 and all(s.startswith("ab") and len(s) >= 40 for s in samples)
    assert set("".join(samples)) <= set(tiny_text.read_text()) | {"\n"}
    checkpoint = minigrad.load(save)
    assert checkpoint["epoch"] == 2 and checkpoint["vocab"] == "".join(sorted(set(tiny_text.read_text())))


def test_resume_is_bit_identical_to_an_uninterrupted_run(tiny_text, tmp_path, capsys):
    straight, first, resumed = tmp_path / "straight.npz", tmp_path / "first.npz", tmp_path / "resumed.npz"
    out_straight = run(capsys, "--text", tiny_text, "--epochs", 2, "--save", straight, *TINY)
    run(capsys, "--text", tiny_text, "--epochs", 1, "--save", first, *TINY)
    out_resumed = run(capsys, "--text", tiny_text, "--epochs", 2, "--resume", first, "--save", resumed, *TINY)
    assert "Resumed from" in out_resumed
    assert epoch_losses(out_resumed) == epoch_losses(out_straight)[1:]
    assert sampled(out_resumed) == sampled(out_straight)[1:]  # the sampling's random state resumes too
    a, b = minigrad.load(straight), minigrad.load(resumed)
    for name, value in a["model"].items():
        np.testing.assert_array_equal(value.numpy(), b["model"][name].numpy(), err_msg=name)


def test_gru_and_bad_inputs(tiny_text, tmp_path, capsys):
    out = run(capsys, "--text", tiny_text, "--epochs", 1, "--cell", "gru", "--save", "", *TINY)
    assert len(epoch_losses(out)) == 1
    assert char_rnn.main(["--text", str(tiny_text), "--prime", "xyz", "--save", ""]) == 1
    assert "--prime has characters the text never uses: 'xyz'" in capsys.readouterr().err
    other = tmp_path / "other.txt"
    other.write_text("The completely different characters " * 50)
    assert char_rnn.main(["--text", str(other), "--resume", str(tmp_path / "missing.npz"), "--save", ""]) == 1
    assert "cannot resume from" in capsys.readouterr().err
    run(capsys, "--text", tiny_text, "--epochs", 1, "--save", tmp_path / "tiny.npz", *TINY)
    assert char_rnn.main(["--text", str(other), "--resume", str(tmp_path / "tiny.npz"), "--save", ""]) == 1
    assert "a different character set" in capsys.readouterr().err


# ---- the corpus: Debian's copy, a local copy, or a checksummed download ----------------------------------------
class FakeResponse(io.BytesIO):
    headers = {}


@pytest.fixture
def no_system_copy(monkeypatch):
    monkeypatch.setattr(text_module, "JARGON_SYSTEM_PATHS", ())


def test_jargon_file_prefers_the_system_copy(tmp_path, monkeypatch):
    packaged = tmp_path / "jargon.txt.gz"
    packaged.write_bytes(gzip.compress("The Jargon File\n═══\n".encode()))
    monkeypatch.setattr(text_module, "JARGON_SYSTEM_PATHS", (str(packaged),))
    text, path = text_module.jargon_file(tmp_path / "cache")
    assert text == "The Jargon File\n═══\n" and path == packaged


def test_jargon_file_downloads_with_checksum_and_falls_back_to_the_next_mirror(tmp_path, monkeypatch, no_system_copy):
    body = b"=== The Jargon File ===\n:hack: n.\n"
    monkeypatch.setattr(text_module, "JARGON_SHA512", hashlib.sha512(body).hexdigest())
    seen = []

    def fetch(url):
        seen.append(url)
        if len(seen) == 1:
            raise OSError("Name or service not known")
        return FakeResponse(body)

    monkeypatch.setattr(mnist_module, "_fetch", fetch)
    text, path = text_module.jargon_file(tmp_path, download=True)
    assert text == body.decode() and path == tmp_path / "JargonFile" / "jarg447.txt"
    assert seen == [m + "jarg447.txt" for m in text_module.JARGON_MIRRORS]
    assert text_module.jargon_file(tmp_path)[0] == text  # found locally from now on, no download


def test_jargon_file_bad_download_leaves_nothing_and_says_how_to_fix(tmp_path, monkeypatch, no_system_copy):
    monkeypatch.setattr(mnist_module, "_fetch", lambda url: FakeResponse(b"a tampered copy"))
    with pytest.raises(DatasetNotFoundError) as info:
        text_module.jargon_file(tmp_path / "cache", download=True)
    message = str(info.value)
    assert "checksum mismatch: sha512" in message and "apt-get install jargon-text" in message
    assert not (tmp_path / "cache").exists()
    with pytest.raises(DatasetNotFoundError, match="Download was not requested"):
        text_module.jargon_file(tmp_path)


def test_example_reports_a_missing_corpus(tmp_path, monkeypatch, capsys, no_system_copy):
    monkeypatch.setattr(mnist_module, "_fetch", lambda url: (_ for _ in ()).throw(OSError("offline")))
    assert char_rnn.main(["--data-dir", str(tmp_path), "--save", ""]) == 1
    assert "The Jargon File was not found" in capsys.readouterr().err

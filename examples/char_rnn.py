"""Train a character-level LSTM (or GRU) language model with minigrad, code written as for torch.

    python examples/char_rnn.py                                  # the Jargon File, 1 epoch, then a sample
    python examples/char_rnn.py --cell gru --epochs 3 --temperature 0.6
    python examples/char_rnn.py --resume checkpoints/char_rnn.npz --epochs 4
    python examples/char_rnn.py --text my_book.txt --limit-chars 200000

Model: Embedding -> LSTM/GRU -> Linear, trained with cross-entropy to predict each next character, by
truncated backpropagation through time: the text is cut into --batch-size parallel streams, read
--seq-len characters at a time, with the recurrent state carried (detached) from one chunk to the next.
Sampling draws each next character with torch.multinomial from softmax(logits / temperature).

Corpus: by default the Jargon File 4.4.7 (public domain; see minigrad/datasets/text.py): Debian's
`jargon-text` package installs it as /usr/share/doc/jargon-text/jargon.txt.gz; without it, the script
downloads the editor's plain-text edition (checksummed, written atomically) into $MINIGRAD_DATA or
~/.cache/minigrad. Any UTF-8 text file works with --text.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
import minigrad.optim as optim  # noqa: E402
from minigrad.datasets import DatasetNotFoundError  # noqa: E402
from minigrad.datasets.text import jargon_file, read_text  # noqa: E402


class CharRNN(nn.Module):
    """Embedding -> LSTM/GRU -> Linear over the vocabulary: logits for the next character."""

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 128, layers: int = 2, cell: str = "lstm"):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


def detach(state):
    """Cut the graph between chunks (truncated BPTT): an LSTM's state is (h, c), a GRU's just h."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class Vocab:
    """Characters <-> integer ids, ids in sorted character order."""

    def __init__(self, chars: str):
        self.chars = "".join(sorted(set(chars)))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def streams(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """(batch_size, length): the text cut into parallel streams, so each chunk continues the last."""
    length = len(ids) // batch_size
    return ids[:length * batch_size].reshape(batch_size, length)


def chunks(data: np.ndarray, seq_len: int):
    """(inputs, targets) pairs of shape (batch, <= seq_len): targets are the inputs shifted by one."""
    for start in range(0, data.shape[1] - 1, seq_len):
        end = min(start + seq_len, data.shape[1] - 1)
        yield data[:, start:end], data[:, start + 1:end + 1]


def run_epoch(model, data, seq_len, device, optimizer=None, clip=None, desc=""):
    """Mean cross-entropy per character over ``data``; trains when an optimizer is given."""
    model.train(optimizer is not None)
    total, count, state = 0.0, 0, None
    steps = math.ceil((data.shape[1] - 1) / seq_len)
    bar = tqdm(chunks(data, seq_len), total=steps, desc=desc, unit="step", leave=optimizer is not None,
               disable=steps == 0)
    with torch.set_grad_enabled(optimizer is not None):
        for inputs, targets in bar:
            x = torch.from_numpy(inputs).to(device)
            y = torch.from_numpy(targets).to(device)
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                if clip:
                    nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
            state = detach(state)
            total += loss.item() * y.numel()
            count += y.numel()
            bar.set_postfix(loss=f"{total / count:.3f}", ppl=f"{math.exp(total / count):.2f}", refresh=False)
    return total / max(count, 1)


@torch.no_grad()
def sample(model, vocab, prime: str, length: int, temperature: float, device) -> str:
    """``prime`` continued by ``length`` characters, each drawn from softmax(logits / temperature)."""
    model.eval()
    ids = vocab.encode(prime) if prime else np.zeros(1, dtype=np.int64)
    logits, state = model(torch.from_numpy(ids[None]).to(device))
    out = []
    for _ in range(length):
        probs = F.softmax(logits[0, -1] / temperature, dim=-1)
        next_id = torch.multinomial(probs, 1)
        out.append(int(next_id.item()))
        logits, state = model(next_id.reshape(1, 1), state)
    return prime + vocab.decode(out)


def load_text(args) -> tuple[str, str]:
    """(text, where it came from)."""
    if args.text is not None:
        return read_text(args.text), str(args.text)
    text, path = jargon_file(args.data_dir, download=True)
    return text, f"{path} (the Jargon File, public domain)"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--text", type=Path, help="a UTF-8 text file (.gz works) instead of the Jargon File")
    p.add_argument("--data-dir", type=Path, help="where to look for / download the Jargon File")
    p.add_argument("--limit-chars", type=int, metavar="N", help="use only the first N characters")
    p.add_argument("--epochs", type=int, default=1, help="total epochs (default: 1)")
    p.add_argument("--batch-size", type=int, default=32, help="parallel streams (default: 32)")
    p.add_argument("--seq-len", type=int, default=64, help="characters per BPTT chunk (default: 64)")
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm", help="(default: lstm)")
    p.add_argument("--embed", type=int, default=64, help="embedding size (default: 64)")
    p.add_argument("--hidden", type=int, default=128, help="hidden size (default: 128)")
    p.add_argument("--layers", type=int, default=2, help="stacked recurrent layers (default: 2)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default: 0.002)")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip, 0 for none (default: 1.0)")
    p.add_argument("--val-fraction", type=float, default=0.05, help="held-out tail of the text (default: 0.05)")
    p.add_argument("--seed", type=int, default=1234, help="seed for weights and sampling (default: 1234)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="(default: cpu)")
    p.add_argument("--sample-chars", type=int, default=300, help="characters sampled after each epoch")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    p.add_argument("--prime", default="The ", help="text the sample starts from (default: 'The ')")
    p.add_argument("--save", default=None, metavar="PATH",
                   help="checkpoint written after each epoch (default: checkpoints/char_rnn.npz; '' to skip)")
    p.add_argument("--resume", type=Path, metavar="PATH", help="continue from a checkpoint written by --save")
    return p.parse_args(argv)


def resume(path, model, optimizer, vocab) -> int:
    """Restore a checkpoint written by this script; returns the epoch it was saved after."""
    checkpoint = torch.load(path)
    if not isinstance(checkpoint, dict) or not {"model", "optimizer", "epoch", "vocab", "rng"} <= checkpoint.keys():
        raise ValueError("not a checkpoint written by examples/char_rnn.py")
    if checkpoint["vocab"] != vocab.chars:
        raise ValueError("it was trained on a text with a different character set (pass the same --text)")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.default_generator.set_state(checkpoint["rng"])
    return checkpoint["epoch"]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"error: --device cuda: {torch.cuda.unavailable_reason()}", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    try:
        text, source = load_text(args)
    except (DatasetNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    text = text[:args.limit_chars] if args.limit_chars else text
    vocab = Vocab(text)
    unknown = sorted(set(args.prime) - set(vocab.chars))
    if unknown:
        print(f"error: --prime has characters the text never uses: {''.join(unknown)!r}", file=sys.stderr)
        return 1
    ids = vocab.encode(text)
    split = len(ids) - int(len(ids) * args.val_fraction)
    train_data = streams(ids[:split], args.batch_size)
    val_data = streams(ids[split:], max(1, min(args.batch_size, (len(ids) - split) // (args.seq_len + 1))))
    if train_data.shape[1] < 2:
        print(f"error: {len(ids)} characters are too few for --batch-size {args.batch_size}", file=sys.stderr)
        return 1
    print(f"{source}: {len(text):,} characters, {len(vocab.chars)} distinct; "
          f"training on {train_data.size:,}, validating on {val_data.size:,}, on {device}")

    torch.manual_seed(args.seed)
    model = CharRNN(len(vocab.chars), args.embed, args.hidden, args.layers, args.cell).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    start_epoch = 1
    if args.resume is not None:
        try:
            start_epoch = resume(args.resume, model, optimizer, vocab) + 1
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:
            print(f"error: cannot resume from {args.resume}: {' '.join(str(e).split())}", file=sys.stderr)
            return 1
        print(f"Resumed from {args.resume} after epoch {start_epoch - 1}")

    save = "checkpoints/char_rnn.npz" if args.save is None else args.save
    for epoch in range(start_epoch, args.epochs + 1):
        started = time.perf_counter()
        train_loss = run_epoch(model, train_data, args.seq_len, device, optimizer, args.clip,
                               desc=f"Epoch {epoch}/{args.epochs}")
        val_loss = run_epoch(model, val_data, args.seq_len, device, desc="validating")
        print(f"Epoch {epoch}: train loss {train_loss:.4f} (perplexity {math.exp(train_loss):.2f}), "
              f"validation loss {val_loss:.4f} (perplexity {math.exp(val_loss):.2f}), "
              f"{time.perf_counter() - started:.0f}s")
        if args.sample_chars:
            print(f"--- sample (temperature {args.temperature}) ---")
            print(sample(model, vocab, args.prime, args.sample_chars, args.temperature, device))
            print("---")
        if save:  # after every epoch, atomically; the random state after sampling, so a resumed run's samples
            # are the uninterrupted run's
            Path(save).parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                        "vocab": vocab.chars, "rng": torch.default_generator.get_state()}, save)
    if save:
        print(f"Checkpoint saved to {save}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        sys.exit(130)

"""Train examples/char_rnn.py's model with minigrad and with torch side by side, and print both loss curves.

Both start from the same weights (minigrad's initialisation copied into torch), read the same chunks of the
same text in the same order, and use the same optimiser (Adam) and gradient clipping, so any gap between the
curves is the two frameworks' float32 arithmetic, nothing else. Also times a training step of each, in this
one process, one after the other (a busy machine makes both slower: compare the ratio, not the seconds).

    python benchmarks/char_rnn_vs_torch.py                         # 300 steps on the Jargon File
    python benchmarks/char_rnn_vs_torch.py --cell gru --steps 100 --plot curves.png
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from itertools import cycle, islice
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import minigrad  # noqa: E402
from char_rnn import CharRNN, Vocab, chunks, streams  # noqa: E402
from minigrad.datasets.text import jargon_file, read_text  # noqa: E402


def torch_twin(torch, model: CharRNN, cell: str):
    """The same architecture in torch, holding a copy of ``model``'s weights."""
    nn = torch.nn

    class TorchCharRNN(nn.Module):
        def __init__(self, vocab_size, embed, hidden, layers):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed)
            self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(embed, hidden, num_layers=layers, batch_first=True)
            self.head = nn.Linear(hidden, vocab_size)

        def forward(self, x, state=None):
            out, state = self.rnn(self.embed(x), state)
            return self.head(out), state

    rnn = model.rnn
    twin = TorchCharRNN(model.embed.num_embeddings, model.embed.embedding_dim, rnn.hidden_size, rnn.num_layers)
    twin.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in model.state_dict().items()})
    return twin


def train(lib, model, batches, lr, clip):
    """Per-step losses and the seconds spent, training ``model`` with ``lib`` (minigrad or torch)."""
    optimizer = lib.optim.Adam(model.parameters(), lr=lr)
    losses, state = [], None
    started = time.perf_counter()
    for inputs, targets in batches:
        x, y = lib.from_numpy(inputs), lib.from_numpy(targets)
        logits, state = model(x, state)
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        losses.append(loss.item())
    return losses, time.perf_counter() - started


def plot(path, mine, theirs, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(mine) + 1)
    ax.plot(steps, theirs, label="torch", linewidth=2.5, alpha=0.6)
    ax.plot(steps, mine, "--", label="minigrad", linewidth=1.2)
    ax.set(xlabel="training step", ylabel="cross-entropy per character", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"Plot saved to {path}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--text", type=Path, help="a UTF-8 text file instead of the Jargon File")
    p.add_argument("--limit-chars", type=int, default=200_000, help="characters of the text used (default: 200000)")
    p.add_argument("--steps", type=int, default=300, help="training steps (default: 300)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--every", type=int, default=25, help="print the curves every N steps (default: 25)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="save both curves (needs matplotlib)")
    args = p.parse_args(argv)
    import torch
    torch.manual_seed(args.seed)

    text = read_text(args.text) if args.text else jargon_file(download=True)[0]
    text = text[:args.limit_chars]
    vocab = Vocab(text)
    data = streams(vocab.encode(text), args.batch_size)
    batches = list(islice(cycle(chunks(data, args.seq_len)), args.steps))

    minigrad.manual_seed(args.seed)
    model = CharRNN(len(vocab.chars), args.embed, args.hidden, args.layers, args.cell)
    twin = torch_twin(torch, model, args.cell)
    print(f"{args.cell.upper()} {args.layers}x{args.hidden}, embed {args.embed}, vocab {len(vocab.chars)}, "
          f"batch {args.batch_size}x{args.seq_len}, Adam lr {args.lr}, clip {args.clip}, {args.steps} steps; "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads")
    theirs, torch_seconds = train(torch, twin, batches, args.lr, args.clip)
    mine, minigrad_seconds = train(minigrad, model, batches, args.lr, args.clip)

    print(f"\n{'step':>6} {'minigrad':>10} {'torch':>10} {'|diff|':>9}")
    for step in [*range(args.every, args.steps + 1, args.every)] or [args.steps]:
        a, b = mine[step - 1], theirs[step - 1]
        print(f"{step:>6} {a:>10.4f} {b:>10.4f} {abs(a - b):>9.2e}")
    last = slice(-min(25, args.steps), None)
    print(f"\nmean loss of the last {len(mine[last])} steps: minigrad {np.mean(mine[last]):.4f} "
          f"(perplexity {math.exp(np.mean(mine[last])):.2f}), torch {np.mean(theirs[last]):.4f} "
          f"(perplexity {math.exp(np.mean(theirs[last])):.2f}); largest |diff| over all steps "
          f"{np.max(np.abs(np.subtract(mine, theirs))):.2e}")
    print(f"time per step: minigrad {1000 * minigrad_seconds / args.steps:.1f} ms, torch "
          f"{1000 * torch_seconds / args.steps:.1f} ms (ratio {minigrad_seconds / torch_seconds:.2f}x)")
    if args.plot is not None:
        try:
            plot(args.plot, mine, theirs, f"char-level {args.cell.upper()} on {len(text):,} characters")
        except ImportError:
            print("matplotlib is not installed: no plot (pip install matplotlib)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

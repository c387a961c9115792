"""Train the "PyTorch Zero to All" MNIST MLP (lecture 09) with minigrad, code written as for torch.

    python examples/mnist.py                              # MNIST, 9 epochs as the tutorial
    python examples/mnist.py --dataset fashion-mnist --epochs 3 --plot curves.png
    python examples/mnist.py --resume checkpoints/mnist.npz --epochs 12
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from tqdm import tqdm  # noqa: E402

import minigrad  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
import minigrad.optim as optim  # noqa: E402
from minigrad import transforms  # noqa: E402
from minigrad.datasets import MNIST, DatasetNotFoundError, FashionMNIST, IDXFormatError  # noqa: E402
from minigrad.utils.data import DataLoader, Subset  # noqa: E402

DATASETS = {"mnist": (MNIST, (0.1307,), (0.3081,)), "fashion-mnist": (FashionMNIST, (0.2860,), (0.3530,))}


class Net(nn.Module):
    """The tutorial's five-layer MLP: 784-520-320-240-120-10 with ReLU."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(784, 520)
        self.l2 = nn.Linear(520, 320)
        self.l3 = nn.Linear(320, 240)
        self.l4 = nn.Linear(240, 120)
        self.l5 = nn.Linear(120, 10)

    def forward(self, x):
        x = x.view(-1, 784)  # flatten (n, 1, 28, 28) -> (n, 784)
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        x = F.relu(self.l4(x))
        return self.l5(x)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Data: MNIST is read from --data-dir (torchvision's DIR/MNIST/raw layout or a flat folder of the "
               "four IDX files), else downloaded into it (default $MINIGRAD_DATA or ~/.cache/minigrad). Without "
               "--dataset, if MNIST can be neither found nor downloaded but Fashion-MNIST is found locally (e.g. "
               "Debian's dataset-fashion-mnist package), the script says so and trains on Fashion-MNIST.")
    p.add_argument("--epochs", type=int, default=9, help="total epochs, 9 as the tutorial (default: 9)")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default: 64)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default: 0.01)")
    p.add_argument("--momentum", type=float, default=0.5, help="SGD momentum (default: 0.5)")
    p.add_argument("--seed", type=int, default=1, help="seed for weights and shuffling (default: 1)")
    add_common_arguments(p, "checkpoints/<dataset>.npz")
    p.add_argument("--graph", type=Path, metavar="FILE",
                   help="draw the model's autograd graph for one batch: .dot writes Graphviz text; .svg, .png "
                        "or .pdf need the graphviz package and Graphviz's dot program")
    return p.parse_args(argv)


def add_common_arguments(p: argparse.ArgumentParser, checkpoint: str) -> None:
    """The data, device, checkpoint and plot options of every MNIST example (mnist_cnn.py uses them too)."""
    p.add_argument("--dataset", choices=sorted(DATASETS), help="default: mnist, or fashion-mnist as a fallback")
    p.add_argument("--data-dir", type=Path, help="where to look for / download the data")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="(default: cpu)")
    p.add_argument("--save", default=None, metavar="PATH",
                   help=f"checkpoint written at the end (default: {checkpoint}; '' to skip)")
    p.add_argument("--resume", type=Path, metavar="PATH", help="continue from a checkpoint written by --save")
    p.add_argument("--limit", type=int, metavar="N", help="train on the first N training samples only")
    p.add_argument("--plot", type=Path, metavar="PNG", help="save loss/accuracy curves (needs matplotlib)")


def load_data(args):
    """(name, train set, test set), falling back to a local Fashion-MNIST only when --dataset was not given."""
    name = args.dataset or "mnist"
    try:
        return (name, *_load(name, args.data_dir, download=True))
    except DatasetNotFoundError as error:
        if args.dataset is not None:
            raise
        try:
            sets = _load("fashion-mnist", args.data_dir, download=False)
        except DatasetNotFoundError:
            raise error from None
        print(f"MNIST not found locally and download failed; using Fashion-MNIST from {sets[0].files[0].parent} "
              "instead (pass --dataset mnist to insist on MNIST).")
        return ("fashion-mnist", *sets)


def _load(name, root, download):
    cls, mean, std = DATASETS[name]
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    train = cls(root, train=True, transform=tf, download=download)
    return train, cls(root, train=False, transform=tf, download=download)


def random_state(loader) -> dict:
    """Everything random that the next epoch draws from: the default generator (shuffling, and anything
    else that uses it) and the loader's own generator, if it has one."""
    own = loader.generator
    return {"default": minigrad.default_generator.get_state(), "loader": None if own is None else own.get_state()}


def resume(path, model, optimizer, loader) -> int:
    """Restore a checkpoint written by this script; returns the epoch it was saved after."""
    checkpoint = minigrad.load(path)
    if not isinstance(checkpoint, dict) or not {"model", "optimizer", "epoch"} <= checkpoint.keys():
        raise ValueError("not a checkpoint written by examples/mnist.py (it needs model, optimizer and epoch)")
    epoch = checkpoint["epoch"]
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"the saved epoch is {epoch!r}, expected a non-negative int")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    rng = checkpoint.get("rng")
    if rng is None:  # written before checkpoints held it: training continues, but not bit-identically
        print("note: the checkpoint holds no random state; shuffling will differ from an uninterrupted run")
    else:
        minigrad.default_generator.set_state(rng["default"])
        if (rng["loader"] is None) != (loader.generator is None):
            raise ValueError("the checkpoint's shuffling generator does not match this loader's")
        if loader.generator is not None:
            loader.generator.set_state(rng["loader"])
    return epoch


def train(model, loader, optimizer, criterion, epoch, epochs):
    """One epoch; returns the mean training loss."""
    model.train()
    total, seen, start = 0.0, 0, time.perf_counter()
    bar = tqdm(loader, desc=f"Epoch {epoch}/{epochs}", unit="batch", leave=True)
    for batch_idx, (data, target) in enumerate(bar, 1):
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        total += loss.item()
        seen += len(target)
        bar.set_postfix(loss=f"{total / batch_idx:.4f}",
                        samples_s=f"{seen / (time.perf_counter() - start):.0f}", refresh=False)
    return total / max(len(loader), 1)


def test(model, loader, criterion):
    """Evaluate as the tutorial: summed per-batch mean loss divided by the number of samples."""
    model.eval()
    test_loss, correct = 0.0, 0
    with minigrad.no_grad():
        for data, target in loader:
            output = model(data)
            test_loss += criterion(output, target).item()
            pred = output.max(1, keepdim=True)[1]
            correct += int(pred.eq(target.view_as(pred)).sum().item())
    n = len(loader.dataset)
    test_loss /= n
    print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{n} ({100.0 * correct / n:.2f}%)")
    return test_loss, correct / n


def plot(path, history, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train (mean batch loss)")
    ax1.plot(epochs, [h["test_loss"] for h in history], "o-", label="test (tutorial's average loss)")
    ax1.set(xlabel="epoch", ylabel="loss", yscale="log", title=title)
    ax1.legend()
    ax2.plot(epochs, [100 * h["accuracy"] for h in history], "o-")
    ax2.set(xlabel="epoch", ylabel="test accuracy (%)")
    fig.tight_layout()
    fig.savefig(path)
    print(f"Curves saved to {path}")


def draw_graph(path: Path, model, criterion, loader) -> None:
    """The autograd graph of one batch's loss, as torchviz draws it (minigrad.utils.viz.make_dot)."""
    from minigrad._atomic import atomic_write
    from minigrad.utils.viz import make_dot
    x, y = next(iter(loader))
    graph = make_dot(criterion(model(x), y), params=dict(model.named_parameters()))
    if path.suffix == ".dot":
        data = (graph if isinstance(graph, str) else graph.source).encode()
    elif isinstance(graph, str):
        raise ImportError(f"writing {path.suffix} needs the graphviz package (pip install minigrad[viz]); "
                          f"or use a .dot file")
    else:
        try:
            data = graph.pipe(format=path.suffix.lstrip(".") or "svg")
        except Exception as e:  # graphviz.ExecutableNotFound and its kin: no `dot` program
            raise RuntimeError(f"Graphviz could not render it ({e}); use a .dot file") from e
    with atomic_write(path) as f:
        f.write(data)


def prepare(args):
    """What every example checks before training, shared with mnist_cnn.py: (device, dataset name, training
    set, test set), seeded; or an exit status after one clear error line (2: bad option, 1: no data)."""
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401  (checked up front, not after minutes of training)
        except ImportError:
            print("error: --plot needs matplotlib: pip install matplotlib", file=sys.stderr)
            return 2
    device = minigrad.device(args.device)
    if device.type == "cuda" and not minigrad.cuda.is_available():
        print(f"error: --device cuda: {minigrad.cuda.unavailable_reason()}", file=sys.stderr)
        return 2
    minigrad.manual_seed(args.seed)
    try:
        name, train_set, test_set = load_data(args)
    except (DatasetNotFoundError, IDXFormatError) as e:
        print(f"error: {e}\nThis script: --data-dir DIR points it at local files; --dataset fashion-mnist "
              "trains on Fashion-MNIST instead.", file=sys.stderr)
        return 1
    if args.limit is not None:
        train_set = Subset(train_set, range(min(args.limit, len(train_set))))
    return device, name, train_set, test_set


def main(argv=None) -> int:
    args = parse_args(argv)
    prepared = prepare(args)
    if isinstance(prepared, int):
        return prepared
    device, name, train_set, test_set = prepared
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, device=device)
    test_loader = DataLoader(test_set, batch_size=args.batch_size, shuffle=False, device=device)

    model = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    start_epoch = first_epoch(args, lambda path: resume(path, model, optimizer, train_loader))
    if start_epoch is None:
        return 1
    print(f"{name}: {len(train_set)} training / {len(test_set)} test samples on {device}")
    if args.graph is not None:
        try:
            draw_graph(args.graph, model, criterion, test_loader)
        except (ImportError, OSError, RuntimeError) as e:
            print(f"error: --graph {args.graph}: {e}", file=sys.stderr)
            return 1
        print(f"Autograd graph written to {args.graph}")
    fit(args, model, optimizer, (train_loader, test_loader), (criterion, criterion), start_epoch,
        checkpoint=f"checkpoints/{name}.npz", title=f"{name} MLP")
    return 0


def first_epoch(args, load) -> int | None:
    """The epoch to start from: 1, or the one after ``--resume``'s checkpoint (``load(path)`` returns its
    epoch); None after one clear error line when the checkpoint cannot be used (no traceback: the file is
    the problem, not the program). Shared with mnist_cnn.py."""
    if args.resume is None:
        return 1
    try:
        start_epoch = load(args.resume) + 1
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:
        print(f"error: cannot resume from {args.resume}: {' '.join(str(e).split())}", file=sys.stderr)
        return None
    print(f"Resumed from {args.resume} after epoch {start_epoch - 1}")
    return start_epoch


def fit(args, model, optimizer, loaders, losses, start_epoch, checkpoint, title, after_epoch=None,
        extra_state=None) -> None:
    """Train from ``start_epoch`` to ``--epochs`` (``after_epoch()`` after each, e.g. a scheduler step), print
    the summary, save the checkpoint (model, optimizer, ``extra_state()``'s entries, epoch, random state) and
    the plot.
    Shared with mnist_cnn.py; ``losses`` is (training loss, test loss)."""
    train_loader, test_loader = loaders
    train_loss_fn, test_loss_fn = losses
    history = []
    started = time.perf_counter()
    for epoch in range(start_epoch, args.epochs + 1):
        train_loss = train(model, train_loader, optimizer, train_loss_fn, epoch, args.epochs)
        test_loss, accuracy = test(model, test_loader, test_loss_fn)
        if after_epoch is not None:
            after_epoch()
        history.append({"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss, "accuracy": accuracy})
    wall = time.perf_counter() - started
    trained = len(history) * len(train_loader.dataset)
    print(f"Done: {len(history)} epoch(s) in {wall:.1f}s ({trained / max(wall, 1e-9):.0f} samples/s)"
          + (f", final accuracy {100 * history[-1]['accuracy']:.2f}%" if history else ""))

    save = checkpoint if args.save is None else args.save
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        extra = extra_state() if extra_state else {}
        minigrad.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), **extra,
                       "epoch": history[-1]["epoch"] if history else start_epoch - 1,
                       "rng": random_state(train_loader)}, save)
        print(f"Checkpoint saved to {save}")
    if args.plot is not None and history:
        plot(args.plot, history, title)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        sys.exit(130)

"""Train the classic PyTorch MNIST CNN (two convolutions, max pooling, dropout, Adadelta) with minigrad.

    python examples/mnist_cnn.py                           # MNIST, 14 epochs as PyTorch's example
    python examples/mnist_cnn.py --dataset fashion-mnist --epochs 3 --plot cnn.png
    python examples/mnist_cnn.py --resume checkpoints/mnist-cnn.npz --epochs 16

Data loading, the training and test loops, checkpoint resumption and plotting are examples/mnist.py's;
this script adds the model, Adadelta with a StepLR schedule, and the scheduler's state in the checkpoint.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/mnist.py, whose helpers this reuses

import mnist

import minigrad
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.optim.lr_scheduler import StepLR
from minigrad.utils.data import DataLoader


class Net(nn.Module):
    """conv 1->32 3x3, ReLU, conv 32->64 3x3, ReLU, 2x2 max pool, dropout 0.25, flatten,
    fc 9216->128, ReLU, dropout 0.5, fc 128->10, log-softmax: 1.2M parameters."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)  # 64 channels x 12 x 12 after the pool
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))  # (n, 32, 26, 26)
        x = F.relu(self.conv2(x))  # (n, 64, 24, 24)
        x = F.max_pool2d(x, 2)  # (n, 64, 12, 12)
        x = self.dropout1(x)
        x = minigrad.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Data: as examples/mnist.py: MNIST from --data-dir (or downloaded into it); without --dataset, a "
               "local Fashion-MNIST (e.g. Debian's dataset-fashion-mnist) when MNIST can be neither found nor "
               "downloaded.")
    p.add_argument("--epochs", type=int, default=14, help="total epochs, 14 as PyTorch's example (default: 14)")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default: 64)")
    p.add_argument("--test-batch-size", type=int, default=1000, help="test batch size (default: 1000)")
    p.add_argument("--lr", type=float, default=1.0, help="Adadelta learning rate (default: 1.0)")
    p.add_argument("--gamma", type=float, default=0.7, help="learning-rate decay per epoch (default: 0.7)")
    p.add_argument("--seed", type=int, default=1, help="seed for weights, shuffling and dropout (default: 1)")
    mnist.add_common_arguments(p, "checkpoints/<dataset>-cnn.npz")
    return p.parse_args(argv)


def resume(path, model, optimizer, scheduler, loader) -> int:
    """examples/mnist.py's resume (model, optimizer, random state), plus the learning-rate schedule."""
    epoch = mnist.resume(path, model, optimizer, loader)
    state = minigrad.load(path).get("scheduler")
    if state is None:
        raise ValueError("the checkpoint has no scheduler state: it was not written by examples/mnist_cnn.py")
    scheduler.load_state_dict(state)
    return epoch


def main(argv=None) -> int:
    args = parse_args(argv)
    prepared = mnist.prepare(args)
    if isinstance(prepared, int):
        return prepared
    device, name, train_set, test_set = prepared
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, device=device)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size, shuffle=False, device=device)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    start_epoch = mnist.first_epoch(args, lambda path: resume(path, model, optimizer, scheduler, train_loader))
    if start_epoch is None:
        return 1
    print(f"{name}: {len(train_set)} training / {len(test_set)} test samples on {device}")
    # Training minimises the batch mean; the test line reports the true per-sample average (a summed loss).
    mnist.fit(args, model, optimizer, (train_loader, test_loader), (nn.NLLLoss(), nn.NLLLoss(reduction="sum")),
              start_epoch, checkpoint=f"checkpoints/{name}-cnn.npz", title=f"{name} CNN",
              after_epoch=scheduler.step, extra_state=lambda: {"scheduler": scheduler.state_dict()})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        sys.exit(130)

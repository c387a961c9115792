"""Train the MNIST CNN of examples/mnist_cnn.py with minigrad and with torch side by side; compare test accuracy.

Both start from the same weights (minigrad's initialisation copied into torch), see the same batches in the
same order, and use the same optimiser and schedule (Adadelta lr 1.0, StepLR gamma 0.7 per epoch). The one
thing that differs is the dropout masks: each library draws its own from its own random stream, so the runs
are two samples of the same training procedure rather than one computation done twice, and the per-epoch
accuracies differ by run-to-run noise (a few tenths of a point) on top of float rounding.

    python benchmarks/cnn_accuracy_vs_torch.py --dataset fashion-mnist --epochs 1
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import mnist_cnn  # noqa: E402  (the model users train)

import minigrad  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import datasets, transforms  # noqa: E402

NORMALISATION = {"mnist": ((0.1307,), (0.3081,)), "fashion-mnist": ((0.2860,), (0.3530,))}


def load(name: str, data_dir: str | None):
    """(x_train, y_train, x_test, y_test) as float32 (n, 1, 28, 28) images, normalised, and int64 labels."""
    cls = datasets.FashionMNIST if name == "fashion-mnist" else datasets.MNIST
    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize(*NORMALISATION[name])])
    arrays = []
    for train in (True, False):
        ds = cls(data_dir or datasets.default_root(), train=train, download=False)
        arrays += [to_input(ds.data).numpy().reshape(-1, 1, 28, 28), ds.targets.numpy()]
    return arrays


def torch_twin(model):
    """The same network in torch, holding a copy of ``model``'s weights."""
    import torch

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 32, 3, 1)
            self.conv2 = torch.nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = torch.nn.Dropout(0.25)
            self.dropout2 = torch.nn.Dropout(0.5)
            self.fc1 = torch.nn.Linear(9216, 128)
            self.fc2 = torch.nn.Linear(128, 10)

        def forward(self, x):
            x = torch.max_pool2d(torch.relu(self.conv2(torch.relu(self.conv1(x)))), 2)
            x = torch.flatten(self.dropout1(x), 1)
            x = self.dropout2(torch.relu(self.fc1(x)))
            return torch.log_softmax(self.fc2(x), dim=1)

    twin = TorchNet()
    state = model.state_dict()
    with torch.no_grad():
        for name, p in twin.named_parameters():
            p.copy_(torch.from_numpy(state[name].numpy()))
    return twin


def accuracy(predict, x, y, batch: int = 500) -> float:
    """Percent correct, evaluated in batches (a whole test set through conv2's unfolded input is gigabytes)."""
    correct = sum(int((predict(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return 100.0 * correct / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(NORMALISATION), default="fashion-mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=int, help="train on the first N training images only (a quick try)")
    args = parser.parse_args()

    import torch
    x_train, y_train, x_test, y_test = load(args.dataset, args.data_dir)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    minigrad.manual_seed(args.seed)
    torch.manual_seed(args.seed)  # torch's own dropout masks, reproducible run to run
    model = mnist_cnn.Net()
    twin = torch_twin(model)
    mine_opt = minigrad.optim.Adadelta(model.parameters(), lr=args.lr)
    their_opt = torch.optim.Adadelta(twin.parameters(), lr=args.lr)
    schedulers = [minigrad.optim.lr_scheduler.StepLR(mine_opt, step_size=1, gamma=args.gamma),
                  torch.optim.lr_scheduler.StepLR(their_opt, step_size=1, gamma=args.gamma)]
    order = np.random.default_rng(args.seed)
    print(f"{args.dataset}: {len(x_train)} train / {len(x_test)} test, batch {args.batch_size}, Adadelta lr {args.lr}, "
          f"StepLR gamma {args.gamma}, seed {args.seed}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print("same initial weights and batches; dropout masks differ (each library draws its own)")
    print(f"{'epoch':>5} {'minigrad acc':>13} {'torch acc':>10} {'gap (pts)':>10} {'minigrad loss':>14} "
          f"{'torch loss':>11} {'minigrad s':>11} {'torch s':>8}")
    for epoch in range(1, args.epochs + 1):
        batches = np.array_split(order.permutation(len(x_train)), range(args.batch_size, len(x_train), args.batch_size))
        seconds, losses = {}, {}
        model.train()
        start, total = time.perf_counter(), 0.0
        for idx in batches:
            loss = F.nll_loss(model(minigrad.from_numpy(x_train[idx])), minigrad.from_numpy(y_train[idx]))
            mine_opt.zero_grad()
            loss.backward()
            mine_opt.step()
            total += loss.item()
        seconds["minigrad"], losses["minigrad"] = time.perf_counter() - start, total / len(batches)
        twin.train()
        start, total = time.perf_counter(), 0.0
        for idx in batches:
            loss = torch.nn.functional.nll_loss(twin(torch.from_numpy(x_train[idx])), torch.from_numpy(y_train[idx]))
            their_opt.zero_grad()
            loss.backward()
            their_opt.step()
            total += loss.item()
        seconds["torch"], losses["torch"] = time.perf_counter() - start, total / len(batches)
        for scheduler in schedulers:
            scheduler.step()
        model.eval()
        twin.eval()
        with minigrad.no_grad(), torch.no_grad():
            mine = accuracy(lambda x: model(minigrad.from_numpy(x)).numpy(), x_test, y_test)
            theirs = accuracy(lambda x: twin(torch.from_numpy(x)).numpy(), x_test, y_test)
        print(f"{epoch:>5} {mine:>12.2f}% {theirs:>9.2f}% {mine - theirs:>+10.2f} {losses['minigrad']:>14.4f} "
              f"{losses['torch']:>11.4f} {seconds['minigrad']:>11.1f} {seconds['torch']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()

"""Train the tutorial MLP with minigrad and with torch side by side, and compare test accuracy per epoch.

Both start from the same weights (minigrad's initialisation copied into torch), see the same batches in the
same order and use the same hyper-parameters, so any gap is the frameworks' arithmetic, nothing else.

    python benchmarks/accuracy_vs_torch.py --dataset fashion-mnist --epochs 5
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigrad  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import datasets, transforms  # noqa: E402

NORMALISATION = {"mnist": ((0.1307,), (0.3081,)), "fashion-mnist": ((0.2860,), (0.3530,))}
SIZES = (784, 520, 320, 240, 120, 10)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(SIZES, SIZES[1:]))

    def forward(self, x):
        x = x.view(-1, 784)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


def load(name: str, data_dir: str | None):
    cls = datasets.FashionMNIST if name == "fashion-mnist" else datasets.MNIST
    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize(*NORMALISATION[name])])
    arrays = []
    for train in (True, False):
        ds = cls(data_dir or datasets.default_root(), train=train, download=False)
        arrays += [to_input(ds.data).numpy().reshape(-1, 784), ds.targets.numpy()]
    return arrays


def torch_twin(model: Net):
    import torch
    twin = torch.nn.Sequential(*[torch.nn.Linear(i, o) for i, o in zip(SIZES, SIZES[1:])])
    with torch.no_grad():
        for mine, theirs in zip(model.layers, twin):
            theirs.weight.copy_(torch.from_numpy(mine.weight.detach().numpy()))
            theirs.bias.copy_(torch.from_numpy(mine.bias.detach().numpy()))
    return twin


def torch_forward(twin, x):
    import torch
    for layer in twin[:-1]:
        x = torch.relu(layer(x))
    return twin[-1](x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(NORMALISATION), default="fashion-mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import torch
    x_train, y_train, x_test, y_test = load(args.dataset, args.data_dir)
    minigrad.manual_seed(args.seed)
    model = Net()
    twin = torch_twin(model)
    mine_opt = minigrad.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    their_opt = torch.optim.SGD(twin.parameters(), lr=args.lr, momentum=args.momentum)
    order = np.random.default_rng(args.seed)
    print(f"{args.dataset}: {len(x_train)} train / {len(x_test)} test, batch {args.batch_size}, lr {args.lr}, "
          f"momentum {args.momentum}, seed {args.seed}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"{'epoch':>5} {'minigrad acc':>13} {'torch acc':>10} {'gap (pts)':>10} {'minigrad s':>11} {'torch s':>8}")
    for epoch in range(1, args.epochs + 1):
        batches = np.array_split(order.permutation(len(x_train)), range(args.batch_size, len(x_train), args.batch_size))
        seconds = {}
        start = time.perf_counter()
        for idx in batches:
            loss = F.cross_entropy(model(minigrad.from_numpy(x_train[idx])), minigrad.from_numpy(y_train[idx]))
            mine_opt.zero_grad()
            loss.backward()
            mine_opt.step()
        seconds["minigrad"] = time.perf_counter() - start
        start = time.perf_counter()
        for idx in batches:
            loss = torch.nn.functional.cross_entropy(torch_forward(twin, torch.from_numpy(x_train[idx])),
                                                     torch.from_numpy(y_train[idx]))
            their_opt.zero_grad()
            loss.backward()
            their_opt.step()
        seconds["torch"] = time.perf_counter() - start
        with minigrad.no_grad(), torch.no_grad():
            mine = (model(minigrad.from_numpy(x_test)).argmax(1).numpy() == y_test).mean() * 100
            theirs = (torch_forward(twin, torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean() * 100
        print(f"{epoch:>5} {mine:>12.2f}% {theirs:>9.2f}% {mine - theirs:>+10.2f} {seconds['minigrad']:>11.2f} "
              f"{seconds['torch']:>8.2f}")


if __name__ == "__main__":
    main()

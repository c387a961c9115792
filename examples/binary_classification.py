"""Binary classification with Linear -> ReLU -> Linear -> sigmoid and nn.BCELoss, on two Fashion-MNIST classes.

    python examples/binary_classification.py                     # T-shirt/top vs Trouser
    python examples/binary_classification.py --classes 2 4       # Pullover vs Coat (harder)
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402
from minigrad import transforms  # noqa: E402
from minigrad.datasets import DatasetNotFoundError, FashionMNIST  # noqa: E402
from minigrad.utils.data import DataLoader, TensorDataset  # noqa: E402


class NeuralNet1(nn.Module):
    """Linear -> ReLU -> Linear -> sigmoid: one probability per sample, for nn.BCELoss."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out = self.linear1(x)
        out = self.relu(out)
        out = self.linear2(out)
        # sigmoid at the end
        y_pred = torch.sigmoid(out)
        return y_pred


def two_class_tensors(dataset, negative, positive):
    """Flattened, normalised images of the two classes and float targets of shape (N, 1): 1.0 for `positive`."""
    targets = dataset.targets.numpy()
    keep = np.flatnonzero((targets == negative) | (targets == positive))
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    images = tf(dataset.data[keep]).view(len(keep), -1)  # one vectorised call for the whole set
    labels = torch.from_numpy((targets[keep] == positive).astype(np.float32)).view(-1, 1)
    return images, labels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", type=int, nargs=2, default=[0, 1], metavar=("NEG", "POS"),
                   help="two Fashion-MNIST class indices (default: 0 1, T-shirt/top vs Trouser)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--hidden", type=int, default=5, help="hidden units, 5 as the tutorial (default: 5)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--data-dir", type=Path, help="folder holding Fashion-MNIST's IDX files")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    try:
        train_set, test_set = (FashionMNIST(args.data_dir, train=t) for t in (True, False))
    except DatasetNotFoundError as e:
        print(f"error: {e}\n(On Debian/Ubuntu: apt-get install dataset-fashion-mnist)", file=sys.stderr)
        return 1
    neg, pos = args.classes
    print(f"Task: {train_set.classes[neg]} (0) vs {train_set.classes[pos]} (1)")
    x_train, y_train = two_class_tensors(train_set, neg, pos)
    x_test, y_test = two_class_tensors(test_set, neg, pos)

    model = NeuralNet1(input_size=28 * 28, hidden_size=args.hidden)
    print(model)
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
        with torch.no_grad():
            predicted = (model(x_test) > 0.5).float()
            accuracy = (predicted == y_test).float().mean().item()
        print(f"Epoch {epoch}: train loss {total / len(loader):.4f}, test accuracy {100 * accuracy:.2f}% "
              f"({len(y_test)} images)")
    print(f"Trained on {len(y_train)} images in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

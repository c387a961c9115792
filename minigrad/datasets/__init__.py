"""Datasets, mirroring torchvision.datasets: MNIST and Fashion-MNIST, and the IDX reader behind them."""
from .idx import IDXFormatError, read_idx, read_idx_pair
from .mnist import MNIST, DatasetNotFoundError, FashionMNIST, default_root

__all__ = ["MNIST", "FashionMNIST", "DatasetNotFoundError", "IDXFormatError", "default_root",
           "read_idx", "read_idx_pair"]

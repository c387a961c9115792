"""Datasets and batching, mirroring torch.utils.data."""
from .dataloader import DataLoader, default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split",
           "DistributedSampler"]

"""Datasets: labels + images, from arrays, memory-mapped stores or image folders."""

from groupsup.data.dataset import GroupDataset, to_tensor, to_uint8
from groupsup.data.spec import DatasetSpec

__all__ = ["DatasetSpec", "GroupDataset", "to_tensor", "to_uint8"]

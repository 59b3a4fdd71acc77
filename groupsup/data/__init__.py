"""Datasets: labels + images, from arrays, memory-mapped stores or image folders."""

from groupsup.data.dataset import GroupDataset
from groupsup.data.folder import IMAGE_SUFFIXES, ImageScan, scan_images
from groupsup.data.sources import to_tensor, to_uint8
from groupsup.data.spec import DatasetSpec, Download

__all__ = [
    "IMAGE_SUFFIXES",
    "DatasetSpec",
    "Download",
    "GroupDataset",
    "ImageScan",
    "scan_images",
    "to_tensor",
    "to_uint8",
]

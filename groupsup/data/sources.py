"""Image sources: where a GroupDataset's pixels come from.

A source returns uint8 images ``(n, H, W, C)`` for an index array; :class:`GroupDataset` turns
them into float tensors in ``[-1, 1]`` (:func:`to_tensor`). Array sources (in memory or
memory-mapped) index in one vectorised read; file sources decode PNG/JPEG files with Pillow and
name the file at fault; a subset source reads another source through an index array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from groupsup.errors import DataError
from groupsup.imaging import to_8bit

ImageTransform = Callable[[Image.Image], Image.Image]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, H, W, C)`` -> float32 ``(n, C, H, W)`` in ``[-1, 1]``."""
    images = np.ascontiguousarray(images)
    if not images.flags.writeable:  # a read-only memory map: torch wants its own buffer
        images = images.copy()
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``(n, C, H, W)`` in ``[-1, 1]`` -> uint8 ``(n, H, W, C)``: ``(x + 1) / 2 * 255``."""
    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 1).cpu().numpy()


def uint8_images(images: Any, name: str) -> np.ndarray:
    """uint8 ``(N, H, W, C)`` of *images*: uint8 ``(N, H, W, C)`` / ``(N, H, W)``, or float
    ``(N, C, H, W)`` in ``[-1, 1]`` (a torch tensor or numpy array); *name* the dataset's."""
    if isinstance(images, torch.Tensor):
        images = to_uint8(images) if images.is_floating_point() else images.cpu().numpy()
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8:
        if images.ndim == 4 and images.shape[1] in (1, 3):
            images = to_uint8(torch.from_numpy(np.asarray(images, dtype=np.float32)))
        else:
            raise DataError(f"{name}: float images must be (N, C, H, W) in [-1, 1], got "
                            f"{images.dtype} {images.shape}")
    return images


class ImageReadError(DataError):
    """An image file that cannot be read: ``path`` and ``reason`` kept apart for listings."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # rebuilt from both, not the message
        return type(self), (self.path, self.reason)


class ArraySource:
    """Images held in a uint8 array ``(N, H, W, C)``: in memory or a ``np.memmap``."""

    def __init__(self, images: np.ndarray, origin: str = "array"):
        if images.ndim != 4 or images.dtype != np.uint8:
            raise DataError(f"{origin}: images must be uint8 (N, H, W, C), got "
                            f"{images.dtype} {images.shape}")
        self.images = images
        self.origin = origin

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        _, h, w, c = self.images.shape
        return (c, h, w)

    def read(self, indices: np.ndarray) -> np.ndarray:
        # Sorted reads keep memory-mapped access sequential; undo the order afterwards.
        order = np.argsort(indices, kind="stable")
        out = np.empty((len(indices), *self.images.shape[1:]), dtype=np.uint8)
        out[order] = self.images[indices[order]]
        return out


class FileSource:
    """One image file per example, decoded on demand (optionally transformed, then resized).

    *transform* (e.g. a fixed crop) maps each decoded ``PIL.Image`` to another before the mode
    conversion and the size check; its errors are reported with the file's path.
    """

    def __init__(self, paths: Sequence[Path], image_shape: tuple[int, int, int],
                 resize: bool = False, transform: ImageTransform | None = None):
        self.paths = [Path(p) for p in paths]
        self.image_shape = image_shape
        self.resize = resize
        self.transform = transform
        self.mode = {1: "L", 3: "RGB"}.get(image_shape[0])
        if self.mode is None:
            raise DataError(f"image files need 1 or 3 channels, got {image_shape[0]}")

    @classmethod
    def of(cls, paths: Sequence[Path], image_size: int | tuple[int, int] | None,
           channels: int, transform: ImageTransform | None = None) -> FileSource:
        """The source of *paths* with *channels* channels: resized on load to *image_size*
        (``(H, W)`` or a side), or without it at the size of the first file (transformed)."""
        if image_size is not None:
            h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
            return cls(paths, (channels, h, w), True, transform)
        try:
            with Image.open(paths[0]) as img:
                if transform is not None:
                    img.load()
                    img = apply_transform(transform, img, paths[0])
                w, h = img.size
        except FileNotFoundError:
            raise DataError(f"{paths[0]}: image file is missing") from None
        except Exception as err:
            raise DataError(f"{paths[0]}: cannot read image ({err})") from None
        return cls(paths, (channels, h, w), False, transform)

    def __len__(self) -> int:
        return len(self.paths)

    def read_one(self, index: int) -> np.ndarray:
        """uint8 ``(H, W, C)`` pixels of file *index*; failures raise :class:`ImageReadError`."""
        path = self.paths[index]
        c, h, w = self.image_shape
        try:
            with Image.open(path) as img:
                img.load()
                if self.transform is not None:
                    img = apply_transform(self.transform, img, path)
                img = to_8bit(img, self.mode, path)
                if img.size != (w, h):
                    if not self.resize:
                        raise DataError(f"{path}: image is {img.size[0]}x{img.size[1]}, expected "
                                        f"{w}x{h}: the images differ in size ({w}x{h} is the "
                                        f"size of the first file, {self.paths[0]}); set "
                                        f"image_size to resize on load")
                    img = img.resize((w, h), Image.Resampling.BILINEAR)
                array = np.asarray(img, dtype=np.uint8)
        except FileNotFoundError:
            raise ImageReadError(path, "image file is missing") from None
        except UnidentifiedImageError:
            empty = path.stat().st_size == 0
            raise ImageReadError(path, "cannot read image (empty file, 0 bytes)" if empty else
                                 "cannot read image (not an image file Pillow can identify)"
                                 ) from None
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise ImageReadError(path, f"cannot read image ({type(err).__name__}: {err})"
                                 ) from None
        except DataError as err:  # the transform, mode and size checks name the path already
            raise ImageReadError(path, str(err).removeprefix(f"{path}: ")) from None
        return array.reshape(h, w, c)

    def size_mismatch(self) -> str | None:
        """When the files (read as they are: no resize, no transform) differ in size, a line
        naming a file of the first size and the first file of another; else None.

        Reads every file's header, so it is called on an error path only: a backbone that
        refuses the first file's size may really be facing mixed sizes.
        """
        if self.resize or self.transform is not None:
            return None
        _, h, w = self.image_shape
        for path in self.paths[1:]:
            try:
                with Image.open(path) as img:
                    size = img.size
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                    Image.DecompressionBombError):
                continue  # unreadable files are reported when read
            if size != (w, h):
                return (f"the images differ in size: {self.paths[0]} is {w}x{h}, {path} is "
                        f"{size[0]}x{size[1]}; set image_size (dataset.options.image_size) to "
                        "resize them all on load")
        return None

    def read(self, indices: np.ndarray) -> np.ndarray:
        c, h, w = self.image_shape
        out = np.empty((len(indices), h, w, c), dtype=np.uint8)
        for k, i in enumerate(indices.tolist()):  # file decoding is inherently per file
            out[k] = self.read_one(i)
        return out


def apply_transform(transform: ImageTransform, img: Image.Image, path: Path) -> Image.Image:
    """Run a per-file *transform*; any failure becomes a :class:`DataError` naming *path*."""
    try:
        out = transform(img)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
    except Exception as err:
        raise DataError(f"{path}: image transform failed ({type(err).__name__}: {err})") from None
    if not isinstance(out, Image.Image):
        raise DataError(f"{path}: image transform returned {type(out).__name__}, not a PIL image")
    return out


class SubsetSource:
    """A view of another source through an index array."""

    def __init__(self, source: ArraySource | FileSource | SubsetSource, indices: np.ndarray):
        self.base, self.indices = source, indices

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.base.image_shape

    def read(self, indices: np.ndarray) -> np.ndarray:
        return self.base.read(self.indices[indices])


ImageSource = ArraySource | FileSource | SubsetSource

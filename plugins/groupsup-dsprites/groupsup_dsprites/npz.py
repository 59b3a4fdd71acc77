"""Read the released ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` without a float copy.

The archive holds ``imgs`` (``(737280, 64, 64)`` uint8, values 0/1) and ``latents_classes``
(``(737280, 6)`` integers: color, shape, scale, orientation, posX, posY). ``imgs`` is streamed
from the zip member in chunks straight into the uint8 0/255 output, so peak memory is the
output itself (3 GB for the whole set, less for a subset) plus one chunk.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np

import groupsup as gs
from groupsup_dsprites.factors import FACTORS, IMAGE_SIZE, SIZES

FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
LATENT_COLUMNS = ("color", *FACTORS)
_CHUNK_ROWS = 8192


def _header(member: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(member)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(member)
    except ValueError as err:
        raise gs.DataError(f"{where}: not a .npy array ({err})") from None
    raise gs.DataError(f"{where}: unsupported .npy format version {version}")


def _member(archive: zipfile.ZipFile, key: str, path: Path) -> str:
    name = f"{key}.npy"
    if name not in archive.namelist():
        keys = sorted(n.removesuffix(".npy") for n in archive.namelist())
        raise gs.DataError(f"{path}: key {key!r} is missing (keys: {keys}); expected the released "
                        f"dSprites archive with keys 'imgs' and 'latents_classes'")
    return name


def read_classes(archive: zipfile.ZipFile, path: Path) -> np.ndarray:
    """``latents_classes`` as int64 ``(N, 5)`` (the constant color column dropped), validated."""
    with archive.open(_member(archive, "latents_classes", path)) as member:
        shape, fortran, dtype = _header(member, f"{path}:latents_classes")
        if len(shape) != 2 or shape[1] != len(LATENT_COLUMNS) or not np.issubdtype(dtype,
                                                                                   np.integer):
            raise gs.DataError(f"{path}: latents_classes is {dtype} {shape}, expected integers "
                            f"(N, 6) for {list(LATENT_COLUMNS)}")
        data = np.frombuffer(member.read(), dtype=dtype)
    if data.size != shape[0] * shape[1]:
        raise gs.DataError(f"{path}: latents_classes is truncated")
    classes = data.reshape(shape, order="F" if fortran else "C").astype(np.int64)
    if (classes[:, 0] != 0).any():
        raise gs.DataError(f"{path}: latents_classes column 'color' must be 0 (one colour)")
    classes = classes[:, 1:]
    for j, name in enumerate(FACTORS):
        bad = np.flatnonzero((classes[:, j] < 0) | (classes[:, j] >= SIZES[name]))
        if bad.size:
            raise gs.DataError(f"{path}: latents_classes row {int(bad[0])}: {name} class "
                            f"{int(classes[bad[0], j])} is outside 0..{SIZES[name] - 1}")
    return classes


def read_images(archive: zipfile.ZipFile, path: Path, keep: np.ndarray) -> np.ndarray:
    """The rows *keep* (bool ``(N,)``) of ``imgs`` as uint8 ``(n, 64, 64)`` with values 0/255."""
    with archive.open(_member(archive, "imgs", path)) as member:
        shape, fortran, dtype = _header(member, f"{path}:imgs")
        expected = (len(keep), IMAGE_SIZE, IMAGE_SIZE)
        if tuple(shape) != expected or dtype not in (np.uint8, np.bool_) or fortran:
            raise gs.DataError(f"{path}: imgs is {dtype} {tuple(shape)}"
                            f"{' (Fortran order)' if fortran else ''}, expected uint8 "
                            f"{expected} in C order, one 64x64 image per latents_classes row")
        pixels = IMAGE_SIZE * IMAGE_SIZE
        out = np.empty((int(keep.sum()), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        written = 0
        for start in range(0, len(keep), _CHUNK_ROWS):
            rows = min(_CHUNK_ROWS, len(keep) - start)
            raw = member.read(rows * pixels)
            if len(raw) != rows * pixels:
                raise gs.DataError(
                    f"{path}: imgs is truncated at image {start + len(raw) // pixels}")
            chunk = np.frombuffer(raw, dtype=np.uint8).reshape(rows, IMAGE_SIZE, IMAGE_SIZE)
            chunk = chunk[keep[start:start + rows]]
            if chunk.size and chunk.max() > 1:
                raise gs.DataError(f"{path}: imgs holds values other than 0 and 1 (found "
                                f"{int(chunk.max())} near image {start})")
            np.multiply(chunk, 255, out=out[written:written + len(chunk)])
            written += len(chunk)
    return out


def open_archive(path: Path) -> zipfile.ZipFile:
    """Open the archive, or raise a :class:`DataError` that says where to get it."""
    if not path.is_file():
        raise gs.DataError(f"{path}: dSprites archive not found; download {FILE_NAME} from "
                        f"https://github.com/google-deepmind/dsprites-dataset into that folder, "
                        f"or set source = \"generate\" to render the dataset instead")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise gs.DataError(f"{path}: not a readable .npz archive ({err})") from None

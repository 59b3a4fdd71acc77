"""GroupDataset: a schema, an ``(N, A)`` integer label matrix and a way to load example i."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from groupsup.data.sources import (
    ArraySource,
    FileSource,
    ImageSource,
    ImageTransform,
    SubsetSource,
    to_tensor,
    uint8_images,
)
from groupsup.data.store import read_store, write_store
from groupsup.errors import DataError, LabelError
from groupsup.schema import Schema

__all__ = ["GroupDataset"]


class GroupDataset:
    """Examples with categorical labels, the input of the multigraph and the trainer.

    ``labels`` is ``(N, A)`` int64: column j holds codes into ``schema.attributes[j].values``,
    or :data:`~groupsup.schema.UNKNOWN` (-1) where the value is unknown.
    ``load(indices)`` returns float32 ``(n, C, H, W)`` images in ``[-1, 1]``.
    """

    def __init__(self, schema: type[Schema], labels: np.ndarray, source: ImageSource,
                 name: str = "dataset"):
        self.schema = schema
        self.labels = schema.check_codes(labels, where=f"{name} labels", allow_missing=True)
        if len(source) != len(self.labels):
            raise DataError(f"{name}: {len(source)} images but {len(self.labels)} label rows")
        self.source = source
        self.name = name

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"GroupDataset({self.name!r}, {len(self)} examples, image "
                f"{'x'.join(map(str, self.image_shape))}, schema {self.schema!r})")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return self.source.image_shape

    def _indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            bad = int(idx[(idx < 0) | (idx >= len(self))][0])
            raise IndexError(f"{self.name}: example {bad} out of range 0..{len(self) - 1}")
        return idx

    def load_uint8(self, indices: Any) -> np.ndarray:
        """uint8 ``(n, H, W, C)`` images of the given examples."""
        return self.source.read(self._indices(indices))

    def load(self, indices: Any) -> torch.Tensor:
        """float32 ``(n, C, H, W)`` images in ``[-1, 1]``."""
        return to_tensor(self.load_uint8(indices))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, np.ndarray]:
        return self.load([i])[0], self.labels[i]

    def coverage(self) -> dict[str, int]:
        """Per attribute, how many examples have a known value (``len(self)`` when complete)."""
        known = (self.labels >= 0).sum(axis=0)
        return {name: int(k) for name, k in zip(self.schema.names, known)}

    def require_known(self, where: str) -> None:
        """Raise :class:`LabelError` naming *where*, the attribute and an example when some
        value is unknown: for consumers that need complete labels (judges, metrics)."""
        self.schema.check_codes(self.labels, where=f"{where}: {self.name} labels")

    def records(self, indices: Any = None) -> list[dict[str, Any]]:
        """Label dicts (values, not codes) of the given examples (default all)."""
        rows = self.labels if indices is None else self.labels[self._indices(indices)]
        return self.schema.decode(rows)

    def subset(self, indices: Any, name: str | None = None) -> GroupDataset:
        """The examples at *indices*, in that order (shares the image source)."""
        idx = self._indices(indices)
        return GroupDataset(self.schema, self.labels[idx], SubsetSource(self.source, idx),
                            name or f"{self.name}[subset]")

    def columns(self, names: Any, name: str | None = None) -> GroupDataset:
        """The same examples labelled by the attributes *names* only (in that order; the
        schema keeps their declarations and drops the unlabelled block)."""
        schema = Schema.define(self.schema.__name__, [self.schema[n] for n in names])
        positions = [self.schema.names.index(n) for n in names]
        return GroupDataset(schema, self.labels[:, positions], self.source, name or self.name)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(cls, schema: type[Schema], images: Any, labels: Any,
                    name: str = "arrays") -> GroupDataset:
        """In-memory images and labels.

        *images*: uint8 ``(N, H, W, C)`` / ``(N, H, W)``, or float ``(N, C, H, W)`` in
        ``[-1, 1]`` (a torch tensor or numpy array). *labels*: an ``(N, A)`` integer code
        matrix, or label records (dict rows, tuple rows or a column mapping) that are encoded
        with the schema, discovering missing vocabularies.
        """
        labels, schema = _encode_labels(schema, labels, name)
        return cls(schema, labels, ArraySource(uint8_images(images, name), name), name)

    @classmethod
    def from_networkx(cls, graph: Any, images: Any, schema: type[Schema] | None = None,
                      name: str = "relations", image_size: int | tuple[int, int] | None = None,
                      channels: int = 3) -> GroupDataset:
        """Examples and labels from a networkx graph of "same-as" relations.

        Nodes are examples (in ``graph.nodes`` order); an edge keyed by an attribute name
        (``nx.MultiGraph``; or edge data ``attribute=...``) says its ends share that
        attribute's value; node attributes named like schema attributes are known values. Per
        attribute, connected components merged with the known values become its values;
        unnamed ones are ``class-0001, ...`` by smallest node position (see
        :mod:`groupsup.data.relations`). *images*: an array as :meth:`from_arrays` takes (one
        image per node, in node order), a sequence of image paths in node order, or a mapping
        node -> image path.
        """
        from groupsup.data.relations import networkx_labels

        nodes, codes, resolved = networkx_labels(graph, schema)
        images, paths = _node_images(images, nodes, name)
        if paths:
            return cls.from_files(resolved, images, codes, image_size=image_size,
                                  channels=channels, name=name)
        return cls.from_arrays(resolved, images, codes, name=name)

    @classmethod
    def from_store(cls, path: str | os.PathLike, mmap: bool = True) -> GroupDataset:
        """A store directory written by :meth:`write_store` (images memory-mapped)."""
        schema, labels, images, name = read_store(Path(path), mmap)
        return cls(schema, labels, images, name)

    def write_store(self, path: str | os.PathLike, extra: dict[str, Any] | None = None,
                    chunk: int = 4096) -> Path:
        """Write images (uint8 ``.npy``), labels and a manifest; atomic (temp dir + rename)."""
        return write_store(self, Path(path), extra, chunk)

    @classmethod
    def from_files(cls, schema: type[Schema], paths: Sequence[str | os.PathLike], labels: Any,
                   image_size: int | tuple[int, int] | None = None, channels: int = 3,
                   name: str = "files",
                   transform: ImageTransform | None = None) -> GroupDataset:
        """One image file per example; *labels* as in :meth:`from_arrays`.

        Without *image_size*, the first file fixes the size and every other file must match
        (the error names the file); with it, images are resized on load. *transform* maps each
        decoded ``PIL.Image`` to another (e.g. a fixed crop) before the size check.
        """
        paths = [Path(p) for p in paths]
        labels, schema = _encode_labels(schema, labels, name, where=[str(p) for p in paths])
        if not paths:
            raise DataError(f"{name}: no image files")
        return cls(schema, labels, FileSource.of(paths, image_size, channels, transform), name)

    @classmethod
    def from_folder(cls, schema: type[Schema], root: str | os.PathLike, *,
                    pattern: str | None = None, manifest: str | os.PathLike | None = None,
                    image_size: int | tuple[int, int] | None = None, channels: int = 3,
                    strict: bool = True, allow_outside_root: bool = False,
                    relations: str | os.PathLike | None = None) -> GroupDataset:
        """Image files under *root*, labelled by a file-name *pattern* or a CSV/JSON *manifest*.

        *pattern* is matched against each path relative to *root*, e.g.
        ``"{letter}/{size}/{letter}_{size}.png"``; *manifest* is a CSV with a ``path`` column
        and one column per attribute, or a JSON list of such objects. With ``strict`` a file
        whose name does not match the pattern is an error; otherwise it is skipped. Every
        image must resolve (symlinks followed) inside *root* unless *allow_outside_root*.
        An empty manifest cell (or an attribute's ``missing`` token) is an unknown value.

        *relations*: a CSV of ``a,b,attribute`` rows (image paths relative to *root*): a and b
        share that attribute's value. An attribute it names needs no pattern field or manifest
        column; its values are the classes the relations form, merged with the known values
        (see :mod:`groupsup.data.relations`).
        """
        from groupsup.data.folder import read_relations, relation_attributes, scan_folder
        from groupsup.data.relations import resolve_relations

        root = Path(root)
        related = frozenset() if relations is None else frozenset(
            relation_attributes(Path(relations), root))
        paths, records = scan_folder(schema, root, pattern=pattern, manifest=manifest,
                                     strict=strict, allow_outside_root=allow_outside_root,
                                     optional=related)
        if relations is not None:
            edges = read_relations(Path(relations), root, paths, schema)
            records, schema = resolve_relations(schema, len(paths), edges, records,
                                                names=[str(p) for p in paths])
        return cls.from_files(schema, paths, records, image_size=image_size, channels=channels,
                              name=root.name)


def _node_images(images: Any, nodes: list[Any], name: str) -> tuple[Any, bool]:
    """The images of *nodes* in node order as :meth:`GroupDataset.from_networkx` takes them
    (a mapping node -> image becomes a list), and whether they are image paths."""
    if isinstance(images, Mapping):
        missing = [node for node in nodes if node not in images]
        if missing:
            raise DataError(f"{name}: no image for node {missing[0]!r} "
                            f"({len(missing)} nodes without one)")
        images = [images[node] for node in nodes]
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], (str, Path)):
        if len(images) != len(nodes):
            raise DataError(f"{name}: {len(images)} image paths for {len(nodes)} nodes")
        return images, True
    return images, False


def _encode_labels(schema: type[Schema], labels: Any, name: str,
                   where: Sequence[str] | None = None) -> tuple[np.ndarray, type[Schema]]:
    """Accept an integer code matrix or label records; return codes and the resolved schema."""
    if isinstance(labels, np.ndarray) and np.issubdtype(labels.dtype, np.integer) \
            and labels.ndim == 2 and schema.has_values:
        return schema.check_codes(labels, where=f"{name} labels", allow_missing=True), schema
    if isinstance(labels, torch.Tensor):
        return _encode_labels(schema, labels.cpu().numpy(), name, where)
    if isinstance(labels, np.ndarray) and labels.ndim == 2 and not schema.has_values \
            and np.issubdtype(labels.dtype, np.integer):
        raise LabelError(f"{name}: integer label codes need a schema with every vocabulary "
                         f"declared; unresolved attributes: "
                         f"{[a.name for a in schema.attributes if not a.has_values]}")
    records = labels.tolist() if isinstance(labels, np.ndarray) else labels
    if not isinstance(records, (list, tuple, dict)):
        records = list(records)
    resolved = schema.discover_values(records)
    return resolved.encode(records, where=where or name), resolved

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groupsup import LatentPartition, PartitionError

widths = st.lists(st.integers(1, 6), min_size=1, max_size=6)


def make(sizes: list[int]) -> LatentPartition:
    return LatentPartition([(f"a{i}", w) for i, w in enumerate(sizes)])


@settings(max_examples=60, deadline=None)
@given(widths, st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_join_split_roundtrip(sizes, batch, seed):
    p = make(sizes)
    z = torch.randn(batch, p.size, generator=torch.Generator().manual_seed(seed))
    blocks = p.split(z)
    assert list(blocks) == list(p.names)
    assert torch.equal(p.join(blocks), z)


@settings(max_examples=60, deadline=None)
@given(widths, st.integers(1, 5), st.data())
def test_swap_twice_is_identity(sizes, batch, data):
    p = make(sizes)
    za, zb = torch.randn(batch, p.size), torch.randn(batch, p.size)
    names = data.draw(st.lists(st.sampled_from(p.names), min_size=1, unique=True))
    a1, b1 = p.swap(za, zb, names)
    a2, b2 = p.swap(a1, b1, names)
    assert torch.equal(a2, za) and torch.equal(b2, zb)
    # swapped columns moved, the others stayed
    mask = p.mask(names)
    assert torch.equal(a1[:, mask], zb[:, mask]) and torch.equal(a1[:, ~mask], za[:, ~mask])


@settings(max_examples=60, deadline=None)
@given(widths, st.integers(1, 5), st.data())
def test_per_row_swap_matches_named_swap(sizes, batch, data):
    p = make(sizes)
    za, zb = torch.randn(batch, p.size), torch.randn(batch, p.size)
    rows = data.draw(st.lists(st.integers(0, len(p) - 1), min_size=batch, max_size=batch))
    a, b = p.swap(za, zb, torch.tensor(rows))
    for r, j in enumerate(rows):
        ea, eb = p.swap(za[r:r + 1], zb[r:r + 1], p.names[j])
        assert torch.equal(a[r:r + 1], ea) and torch.equal(b[r:r + 1], eb)


@settings(max_examples=60, deadline=None)
@given(widths, st.integers(1, 5))
def test_compose_with_one_source_returns_it(sizes, batch):
    p = make(sizes)
    z = torch.randn(batch, p.size)
    assert torch.equal(p.compose({n: z for n in p.names}), z)


@settings(max_examples=60, deadline=None)
@given(widths, st.integers(1, 5), st.data())
def test_swap_between_equal_codes_is_noop(sizes, batch, data):
    p = make(sizes)
    z = torch.randn(batch, p.size)
    name = data.draw(st.sampled_from(p.names))
    a, b = p.swap(z, z.clone(), name)
    assert torch.equal(a, z) and torch.equal(b, z)


def test_compose_takes_each_block_from_its_source_and_broadcasts():
    p = LatentPartition({"shape": 2, "color": 3})
    a = torch.zeros(4, 5)
    b = torch.ones(5)  # a single code broadcasts over the batch
    out = p.compose({"shape": a, "color": b})
    assert out.shape == (4, 5)
    assert torch.equal(out[:, :2], torch.zeros(4, 2)) and torch.equal(out[:, 2:], torch.ones(4, 3))


def test_assemble_gathers_blocks_by_provider_row():
    p = LatentPartition({"x": 1, "y": 2})
    z = torch.arange(12.0).reshape(4, 3)
    out = p.assemble(z, torch.tensor([[0, 3], [2, 1]]))
    assert out.tolist() == [[0.0, 10.0, 11.0], [6.0, 4.0, 5.0]]


def test_operations_are_differentiable():
    p = LatentPartition({"x": 2, "y": 2})
    za = torch.randn(3, 4, requires_grad=True)
    zb = torch.randn(3, 4, requires_grad=True)
    a, b = p.swap(za, zb, torch.tensor([0, 1, 0]))
    (a.sum() * 2 + b.sum()).backward()
    assert za.grad is not None and zb.grad is not None
    # every entry of za ends up in exactly one output: gradient 2 or 1
    assert set(za.grad.unique().tolist()) <= {1.0, 2.0}


def test_shape_errors_name_expected_and_actual_width():
    p = LatentPartition({"x": 2, "y": 3})
    with pytest.raises(PartitionError, match=r"last dimension 5.*got shape \(2, 4\)"):
        p.split(torch.zeros(2, 4))
    with pytest.raises(PartitionError, match="block 'y' must have width 3"):
        p.join({"x": torch.zeros(1, 2), "y": torch.zeros(1, 2)})
    with pytest.raises(PartitionError, match="did you mean 'x'"):
        p.slice("xx")


@pytest.mark.parametrize("blocks", [{}, {"x": 0}, {"x": -1}, [("x", 1), ("x", 2)]])
def test_invalid_partitions_are_refused(blocks):
    with pytest.raises(PartitionError):
        LatentPartition(blocks)


def test_block_mask_and_starts_name_blocks_by_position():
    p = LatentPartition([("shape", 2), ("color", 3), ("size", 1)])
    assert p.starts == (0, 2, 5)
    assert p.block_mask(["size", "shape"]).tolist() == [True, False, True]
    assert p.block_mask("color").tolist() == [False, True, False]
    assert p.mask("color").tolist() == [False, False, True, True, True, False]
    with pytest.raises(PartitionError, match="no latent block named 'colour'"):
        p.block_mask(["colour"])

""""Same-as" relations resolved into values, against networkx's own connected components."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from test_graph_helpers import schema_for

import groupsup as gs
from groupsup.data.relations import components, resolve_relations

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def relation_sets(draw, max_nodes: int = 25):
    """n nodes, edges, and known values (-1 = unknown) of one attribute with 3 values; the
    known values may contradict the edges."""
    n = draw(st.integers(1, max_nodes))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))
    known = draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n))
    return n, np.array(edges, dtype=np.int64).reshape(-1, 2), np.array(known)


@SETTINGS
@given(relation_sets(), st.integers(1, 7))
def test_components_are_networkx_components_labelled_by_their_smallest_id(data, chunk):
    n, edges, _ = data
    label = components(n, [(edges[:, 0], edges[:, 1])], chunk=chunk)
    explicit = nx.Graph()
    explicit.add_nodes_from(range(n))
    explicit.add_edges_from(edges.tolist())
    expected = np.empty(n, dtype=np.int64)
    for part in nx.connected_components(explicit):
        expected[list(part)] = min(part)
    np.testing.assert_array_equal(label, expected)


@SETTINGS
@given(relation_sets())
def test_classes_merge_relations_with_known_values_as_an_explicit_construction(data):
    n, edges, known = data
    schema = gs.Schema.define("R", [gs.Attribute(name="who", latent=1, values=("x", "y", "z"))])
    explicit = nx.Graph()  # examples, plus one node per known value joined to its holders
    explicit.add_nodes_from(range(n))
    explicit.add_edges_from(edges.tolist())
    explicit.add_edges_from((i, ("value", int(v))) for i, v in enumerate(known) if v >= 0)
    parts = list(nx.connected_components(explicit))
    clash = any(len({p for p in part if isinstance(p, tuple)}) > 1 for part in parts)
    records = [{"who": ("x", "y", "z")[v]} if v >= 0 else {} for v in known]
    if clash:
        with pytest.raises(gs.LabelError, match=r"relations join example .* and example .* "
                                                r"into one class, but their known values differ"):
            resolve_relations(schema, n, {"who": (edges[:, 0], edges[:, 1])}, records)
        return
    codes, resolved = resolve_relations(schema, n, {"who": (edges[:, 0], edges[:, 1])}, records)
    vocab = resolved["who"].values
    unnamed = sorted((min(p for p in part if not isinstance(p, tuple)), part) for part in parts
                     if not any(isinstance(p, tuple) for p in part) and len(part) > 1)
    assert vocab == ("x", "y", "z", *(f"class-{k:04d}" for k in range(1, len(unnamed) + 1)))
    for part in parts:
        members = [p for p in part if not isinstance(p, tuple)]
        values = [p[1] for p in part if isinstance(p, tuple)]
        if values:
            assert (codes[members, 0] == values[0]).all()
        elif len(members) == 1:
            assert codes[members[0], 0] == -1  # no relation, no value: unknown
    for k, (_, part) in enumerate(unnamed):
        assert (codes[list(part), 0] == 3 + k).all()


@st.composite
def partial_graphs(draw):
    cards = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    rows = draw(st.lists(st.tuples(*[st.integers(-1, k - 1) for k in cards]),
                         min_size=1, max_size=20))
    labels = np.array(rows, dtype=np.int64).reshape(-1, len(cards))
    return gs.MultiGraph(labels, schema_for(cards))


@SETTINGS
@given(partial_graphs())
def test_from_networkx_of_to_networkx_is_the_same_graph(graph):
    assert gs.MultiGraph.from_networkx(graph.to_networkx()) == graph
    again = gs.MultiGraph.from_networkx(graph.to_networkx(), schema=graph.schema)
    np.testing.assert_array_equal(again.labels, graph.labels)


def test_group_dataset_from_networkx_names_unnamed_classes_and_checks_names():
    g = nx.MultiGraph()
    g.add_nodes_from(["p1", "p2", "p3", "p4", "p5"])
    g.nodes["p5"]["pose"] = "left"
    g.add_edge("p3", "p4", key="person")
    g.add_edge("p1", "p2", key="person")
    g.add_edge("p2", "p5", key="pose")

    class Photos(gs.Schema):
        person = gs.Attribute(latent=4)
        pose = gs.Attribute(latent=2)

    images = np.zeros((5, 8, 8, 3), dtype=np.uint8)
    data = gs.GroupDataset.from_networkx(g, images=images, schema=Photos)
    assert data.schema["person"].values == ("class-0001", "class-0002")
    assert data.records() == [{"person": "class-0001", "pose": None},
                              {"person": "class-0001", "pose": "left"},
                              {"person": "class-0002", "pose": None},
                              {"person": "class-0002", "pose": None},
                              {"person": None, "pose": "left"}]
    assert data.coverage() == {"person": 4, "pose": 2}
    g.add_edge("p1", "p3", key="persn")
    with pytest.raises(gs.LabelError, match=r"'persn'.*did you mean 'person'"):
        gs.GroupDataset.from_networkx(g, images=images, schema=Photos)


def test_folder_relations_csv_manifest_gaps_and_missing_token(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    rows = ["path,pose"]
    for i, pose in enumerate(["left", "right", "", "?", "left", "right"]):
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(root / f"{i}.png")
        rows.append(f"{i}.png,{pose}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "same.csv").write_text("a,b,attribute\n0.png,1.png,person\n1.png,2.png,person\n"
                                   "3.png,4.png,person\n2.png,3.png,pose\n")
    spec = gs.get_host().datasets.get("folder")
    data = spec.build({"root": str(root), "manifest": "labels.csv", "missing": "?",
                       "relations": "same.csv", "attributes": {"person": 4, "pose": 2}})
    assert data.schema["person"].values == ("class-0001", "class-0002")
    # 2 and 3 share an unnamed pose: a class of its own after the known values
    assert data.schema["pose"].values == ("left", "right", "class-0001")
    assert data.labels.tolist() == [[0, 0], [0, 1], [0, 2], [1, 2], [1, 0], [-1, 1]]
    graph = gs.MultiGraph(data)
    assert graph.coverage() == {"person": (5, 6), "pose": (6, 6)}
    (root / "bad.csv").write_text("a,b,attribute\n0.png,9.png,person\n")
    with pytest.raises(gs.DataError, match=r"row 1 b='9\.png' is not an image of the dataset"):
        spec.build({"root": str(root), "manifest": "labels.csv", "relations": "bad.csv",
                    "attributes": {"person": 4, "pose": 2}})

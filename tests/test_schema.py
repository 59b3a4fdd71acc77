import json

import numpy as np
import pytest

import groupsup as gs
from groupsup import Attribute, LabelError, Schema, SchemaError


class Shapes(Schema):
    shape = Attribute(values=["square", "circle", "triangle"], latent=8)
    color = Attribute(values=["red", "green", "blue"], latent=8, description="fill colour")
    position = Attribute(latent=16)


def test_declaration_order_partition_and_repr():
    assert Shapes.names == ("shape", "color", "position")
    assert Shapes.partition == gs.LatentPartition({"shape": 8, "color": 8, "position": 16})
    assert Shapes.latent_size == 32
    assert not Shapes.has_values
    assert "position[?]" in repr(Shapes)
    assert Shapes["color"].description == "fill colour"


def test_resolve_discovers_sorted_values_and_freezes_them():
    records = [{"shape": "circle", "color": "red", "position": 3},
               {"shape": "square", "color": "blue", "position": 1}]
    resolved = Shapes.discover_values(records)
    assert resolved.has_values
    assert resolved["position"].values == (1, 3)
    assert resolved["shape"].values == ("square", "circle", "triangle")  # declared order kept
    codes = resolved.encode(records)
    assert codes.tolist() == [[1, 0, 1], [0, 2, 0]]
    assert resolved.decode(codes) == records


def test_encode_accepts_tuples_columns_and_numpy_scalars():
    s = Shapes.with_values(position=[0, 1])
    rows = [("square", "red", np.int64(1)), ("triangle", "blue", 0)]
    cols = {"shape": ["square", "triangle"], "color": ["red", "blue"], "position": [1, 0]}
    assert s.encode(rows).tolist() == s.encode(cols).tolist() == [[0, 0, 1], [2, 2, 0]]


def test_unknown_value_error_names_attribute_value_and_origin():
    s = Shapes.with_values(position=[0])
    with pytest.raises(LabelError, match=r"'color': value 'magenta' \(from b.png\)"):
        s.encode([("square", "red", 0), ("square", "magenta", 0)], where=["a.png", "b.png"])
    with pytest.raises(LabelError, match="did you mean 'circle'"):
        s.encode([("circel", "red", 0)])


def test_wrong_row_length_and_missing_keys():
    s = Shapes.with_values(position=[0])
    with pytest.raises(LabelError, match="record 0 has 2 values, expected 3"):
        s.encode([("square", "red")])
    with pytest.raises(LabelError, match=r"lacks attributes \['position'\]"):
        s.encode([{"shape": "square", "color": "red"}])


def test_check_codes_names_attribute_and_row():
    s = Shapes.with_values(position=[0, 1])
    with pytest.raises(LabelError, match="attribute 'color' row 1 has code 3"):
        s.check_codes(np.array([[0, 0, 0], [0, 3, 1]]))
    with pytest.raises(LabelError, match=r"shape \(N, 3\)"):
        s.check_codes(np.zeros((2, 2), dtype=int))


def test_json_round_trip_needs_no_class():
    s = Shapes.with_values(position=[0, 1, 2]).with_latent(position=4)
    text = s.to_json()
    back = Schema.from_json(text)
    assert back.same_as(s) and back.__name__ == "Shapes"
    assert json.loads(back.to_json()) == json.loads(text)
    assert back.partition.size == 20


@pytest.mark.parametrize(
    "kwargs, message",
    [({"latent": 0}, "greater than 0"), ({"latent": 2, "values": []}, "empty"),
     ({"latent": 2, "values": ["a", "a"]}, "more than once")],
)
def test_invalid_attributes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Attribute(**kwargs)


def test_duplicate_attribute_in_class_body_is_refused():
    with pytest.raises(SchemaError, match="declared twice"):
        class Twice(Schema):
            a = Attribute(latent=1)
            a = Attribute(latent=2)


def test_define_refuses_duplicates_and_unnamed():
    with pytest.raises(SchemaError, match="more than once"):
        Schema.define("X", [Attribute(name="a", latent=1), Attribute(name="a", latent=1)])
    with pytest.raises(SchemaError, match="has no name"):
        Schema.define("X", [Attribute(latent=1)])


def test_with_latent_validates():
    with pytest.raises(SchemaError, match="did you mean 'shape'"):
        Shapes.with_latent(shap=3)
    with pytest.raises(SchemaError, match="greater than 0"):
        Shapes.with_latent(shape=0)


def test_subclass_extends_and_overrides():
    class Coloured(Shapes):
        color = Attribute(values=["red"], latent=2)
        texture = Attribute(values=["flat"], latent=1)

    assert Coloured.names == ("shape", "color", "position", "texture")
    assert Coloured["color"].latent == 2 and Shapes["color"].latent == 8


def test_schema_classes_are_not_instantiated():
    with pytest.raises(TypeError, match="schema class"):
        Shapes()


def test_schemas_pickle_by_reference_or_by_json():
    import pickle

    assert pickle.loads(pickle.dumps(Shapes)) is Shapes
    runtime = Shapes.discover_values([{"shape": "square", "color": "red", "position": 1}])
    back = pickle.loads(pickle.dumps(runtime))
    assert back.same_as(runtime) and back.__name__ == "Shapes"

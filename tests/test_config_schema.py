"""`groupsup config schema`: the complete JSON Schema of experiment configs, built from the
registries at run time, and the one validation path of every pluggable option."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import groupsup as gs
from groupsup.cli import main
from groupsup.plugins import reset_host
from groupsup.registry import Entry, Registry
from groupsup.train.config import read_config_file
from groupsup.train.config_schema import check_config, config_json_schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").rglob("*.toml"))


# ---------------------------------------------------------------- a small JSON Schema check
# jsonschema is no dependency: this covers the keywords pydantic emits, which is what matters
# for the schema's claim that a config valid to groupsup is valid to an editor, and back.
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def problems(schema: dict[str, Any], value: Any, root: dict[str, Any], at: str = "") -> list[str]:
    """Where *value* breaks *schema* (``[]``: it is valid)."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    found: list[str] = []
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not problems(s, value, root, at)]
        if len(matching) != 1:
            found.append(f"{at}: matches {len(matching)} of oneOf")
    if "anyOf" in schema and not any(not problems(s, value, root, at) for s in schema["anyOf"]):
        found.append(f"{at}: matches none of anyOf")
    if "const" in schema and value != schema["const"]:
        found.append(f"{at}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{at}: {value!r} not in {schema['enum']}")
    kind = schema.get("type")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is not None:
        ok = isinstance(value, TYPES[kind]) and not (kind != "boolean" and value is True)
    else:
        ok = True
    if not ok:
        return [*found, f"{at}: {value!r} is not {kind}"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, holds in (("minimum", lambda b: value >= b), ("maximum", lambda b: value <= b),
                           ("exclusiveMinimum", lambda b: value > b),
                           ("exclusiveMaximum", lambda b: value < b)):
            if key in schema and not (math.isfinite(value) and holds(schema[key])):
                found.append(f"{at}: {value!r} breaks {key} {schema[key]}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [f"{at}.{k}: required" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key in properties:
                found += problems(properties[key], item, root, f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{at}.{key}: not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += problems(schema["additionalProperties"], item, root, f"{at}.{key}")
    if isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(f"{at}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{at}: more than {schema['maxItems']} items")
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items")
            if isinstance(sub, dict):
                found += problems(sub, item, root, f"{at}.{i}")
    return found


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return config_json_schema(gs.get_host())


def variant(schema: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    """The ``$defs`` entry a section's discriminator maps *name* to."""
    mapping = schema["properties"][section]["discriminator"]["mapping"]
    return schema["$defs"][mapping[name].rsplit("/", 1)[1]]


def option_names(schema: dict[str, Any], definition: dict[str, Any]) -> set[str]:
    options = definition["properties"]["options"]["$ref"].rsplit("/", 1)[1]
    return set(schema["$defs"][options]["properties"])


def test_cli_schema_holds_every_registered_components_options(capsys):
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"width", "max_width"} <= option_names(schema, variant(schema, "model", "conv-small"))
    assert {"width", "res_blocks"} <= option_names(schema, variant(schema, "model", "gzsnet"))
    assert "exact" in option_names(schema, variant(schema, "strategy", "centre-cover"))
    assert {"root", "pattern", "attributes"} <= option_names(
        schema, variant(schema, "dataset", "folder"))
    assert "source" in option_names(schema, variant(schema, "dataset", "dsprites"))  # a plugin
    terms = schema["$defs"]["LossConfig_typed"]["properties"]["terms"]["anyOf"][0]["items"]
    assert terms["discriminator"]["propertyName"] == "term"
    assert "detach_target" in option_names(
        schema, schema["$defs"][terms["discriminator"]["mapping"]["latent"].rsplit("/", 1)[1]])
    recipe = schema["$defs"]["LossConfig_typed"]["properties"]["recipe"]
    assert "gsl" in recipe["anyOf"][0]["enum"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_configs_are_valid_to_the_schema_and_to_check_config(schema, path):
    raw = tomllib.loads(path.read_text())
    assert problems(schema, raw, schema) == []
    check_config(gs.load_config(path), gs.get_host(), str(path))


def test_schema_refuses_what_check_config_refuses(schema):
    raw = read_config_file(ROOT / "examples/fonts/paper.toml")
    raw["model"]["options"]["widht"] = 8
    assert problems(schema, raw, schema) == [".model: matches 0 of oneOf"]
    raw["model"]["options"].pop("widht")
    assert problems(schema, raw, schema) == []
    raw["strategy"] = {"name": "edge", "options": {"exact": True, "fallback": "relaxed"}}
    assert any("oneOf" in p for p in problems(schema, raw, schema))  # fallback: centre-cover's


def test_misspelled_backbone_option_names_the_key(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[dataset]\nname = "store"\noptions = { path = "x" }\n'
                      '[model]\nbackbone = "gzsnet"\noptions = { widht = 8 }\n')
    for argv in (["config", "show", str(config)], ["train", str(config)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert (f"{config}: unknown key 'model.options.widht' (did you mean "
                f"'model.options.width'?)") in err
        assert err.count("\n") == 1


@pytest.mark.parametrize(("section", "expected"), [
    ({"strategy": {"name": "edge", "options": {"cycle_pair": 1}}},
     "unknown key 'strategy.options.cycle_pair' (did you mean 'strategy.options.cycle_pairs'?)"),
    ({"loss": {"terms": [{"term": "recon"}, {"term": "latent", "options": {"detach": True}}]}},
     "unknown key 'loss.terms.1.options.detach' (did you mean "
     "'loss.terms.1.options.detach_target'?)"),
    ({"model": {"options": {"width": 0}}}, "key 'model.options.width' = 0: Input should be"),
])
def test_every_pluggable_section_errs_in_one_format(section, expected):
    data = {"dataset": {"name": "store", "options": {"path": "x"}}, **section}
    with pytest.raises(gs.ConfigError, match=re.escape(f"c.toml: {expected}")):
        check_config(data, gs.get_host(), "c.toml")


def test_unknown_component_is_a_registry_error_with_a_suggestion():
    with pytest.raises(gs.GroupsupError,
                       match=re.escape("no backbone named 'gzsnett' (did you mean 'gzsnet'")):
        check_config({"dataset": {"name": "store"}, "model": {"backbone": "gzsnett"}},
                     gs.get_host())


def test_checked_config_holds_option_models():
    checked = check_config({"dataset": {"name": "store", "options": {"path": "x"}},
                            "model": {"backbone": "gzsnet", "options": {"width": 8}}},
                           gs.get_host())
    assert checked.model.options.width == 8 and checked.model.options.res_blocks >= 0


def test_schema_is_built_from_the_registries_of_the_moment(monkeypatch):
    monkeypatch.setenv("GROUPSUP_PLUGINS", str(ROOT / "examples/plugins/mlp_backbone.py"))
    reset_host()
    try:
        schema = config_json_schema(gs.get_host())
        assert "hidden" in option_names(schema, variant(schema, "model", "mlp"))
    finally:
        reset_host()


def test_schema_of_other_registries():
    """Any object with the five registries will do, not only the process-wide host."""
    host = gs.get_host()

    class Few:
        datasets, strategies, losses, recipes = (host.datasets, host.strategies, host.losses,
                                                 host.recipes)
        backbones: Registry[Any] = Registry("backbone")

    conv = host.backbones.get("conv-small")
    Few.backbones.add(Entry("conv-small", conv, "me", "me", "0"))
    Few.backbones.add(Entry("conv-small", conv, "other", "other", "0"))  # a collision
    schema = config_json_schema(Few())
    assert set(schema["properties"]["model"]["discriminator"]["mapping"]) == {
        "conv-small", "other:conv-small"}  # each name the registry answers to
    check_config({"dataset": {"name": "store", "options": {"path": "x"}},
                  "model": {"backbone": "other:conv-small"}}, Few())

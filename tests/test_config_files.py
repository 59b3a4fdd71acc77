"""Config files that are not configs: refused in one line, before they cost memory or time."""

from __future__ import annotations

import re
import resource
import time

import pytest

from groupsup.errors import ConfigError
from groupsup.train.config import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, load_config, read_config_file

# 634 bytes that expand to 10^9 list items when aliases are followed ("billion laughs")
BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]"
                    for i in range(8)]) + "\ndataset: {name: fonts}\n"


def test_a_yaml_alias_bomb_is_refused_without_expanding(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 700
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb\.yaml: YAML alias \*a at line 2: aliases are "
                                          r"not allowed"):
        load_config(path, ["train.steps=3"])  # overrides once serialised the expansion
    assert time.perf_counter() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB


def test_yaml_without_aliases_still_loads(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text("dataset:\n  name: fonts\ntrain:\n  steps: 7\n")
    assert load_config(path).train.steps == 7


@pytest.mark.parametrize("suffix, text", [
    (".toml", "[" + ".".join(["t"] * (MAX_CONFIG_DEPTH + 5)) + "]\nx = 1\n"),
    (".json", "{" + '"t": {' * (MAX_CONFIG_DEPTH + 5) + "}" * (MAX_CONFIG_DEPTH + 6)),
    (".yaml", "t: " + "[" * (MAX_CONFIG_DEPTH + 5) + "]" * (MAX_CONFIG_DEPTH + 5) + "\n"),
])
def test_nesting_deeper_than_any_config_is_refused(tmp_path, suffix, text):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"deep\{suffix}: tables nested more than "
                                          rf"{MAX_CONFIG_DEPTH} deep \(at t\."):
        read_config_file(path)


def test_a_10k_deep_table_names_the_file(tmp_path):
    path = tmp_path / "deeper.json"
    path.write_text('{"t": ' * 10_000 + "1" + "}" * 10_000)
    with pytest.raises(ConfigError, match=r"deeper\.json: "):
        read_config_file(path)


def test_a_huge_file_is_refused_by_its_size(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match=r"huge\.toml: 1,048,579 bytes is too large"):
        read_config_file(path)


@pytest.mark.parametrize("override, key", [("optim.betas=[nan,0.9]", "optim.betas.0"),
                                           ("optim.betas=[0.9,1.5]", "optim.betas.1"),
                                           ("seed=-1", "seed")])
def test_out_of_range_numbers_name_their_key(tmp_path, override, key):
    path = tmp_path / "c.toml"
    path.write_text('[dataset]\nname = "fonts"\n')
    with pytest.raises(ConfigError, match=rf"{re.escape(key)}"):
        load_config(path, [override])


def test_a_byte_order_mark_is_skipped_and_non_utf8_named(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[dataset]\nname = 'fonts'\n")
    assert read_config_file(path) == {"dataset": {"name": "fonts"}}
    path.write_bytes(b"[dataset]\nname = '\xff'\n")
    with pytest.raises(ConfigError, match=r"bom\.toml: not UTF-8 text"):
        read_config_file(path)

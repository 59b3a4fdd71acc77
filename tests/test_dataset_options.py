"""`groupsup datasets NAME` lists a dataset's options; docs/datasets.md documents `folder`'s."""

import json
import re
import textwrap
from pathlib import Path

import pytest

from groupsup.cli import main
from groupsup.data.builtin import FolderOptions
from groupsup.data.spec import describe_options
from groupsup.plugins import PLUGINS_ENV, reset_host

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("fresh_host")


def test_datasets_name_prints_every_option_with_type_and_default(capsys):
    assert main(["datasets", "folder"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("folder  [groupsup]")
    for line in ("root (str, required)", "attributes (dict[str, int], required)",
                 "pattern (str | None) = unset", "image_size (int | None, > 0) = unset",
                 "channels (int, >= 1, <= 3) = 3"):
        assert f"\n      {line}\n" in out, line
    assert "{_} / {_name} / * an ignored part" in out  # the meaning, under its option


def test_datasets_name_json_and_unknown_name(capsys):
    assert main(["datasets", "store", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["options"] == [
        {"name": "path", "type": "str", "required": True, "default": None,
         "description": row["options"][0]["description"]},
        {"name": "mmap", "type": "bool", "required": False, "default": True,
         "description": row["options"][1]["description"]}]
    assert main(["datasets", "stor"]) == 1
    assert "did you mean 'store'" in capsys.readouterr().err


def test_options_of_a_plugin_dataset_come_from_its_model(tmp_path, monkeypatch, capsys):
    plugin = tmp_path / "shapes_plugin.py"
    plugin.write_text(textwrap.dedent("""
        from pathlib import Path
        from typing import Literal

        from pydantic import BaseModel, ConfigDict, Field

        import groupsup as gs

        class Options(BaseModel):
            model_config = ConfigDict(extra="forbid")
            root: Path = Field(default=Path("data/shapes"), description="the tree")
            mode: Literal["fast", "exact"] = "fast"
            sizes: list[int] = Field(default_factory=lambda: [8, 16], min_length=1)
            scale: float = Field(default=0.5, gt=0, le=1)

        @gs.hookimpl
        def register_datasets(register):
            register("shapes", gs.DatasetSpec(schema=None, load=lambda o: None,
                                              options_model=Options, expects="<root>/*.png"))
    """))
    monkeypatch.setenv(PLUGINS_ENV, str(plugin))
    reset_host()
    assert main(["datasets", "shapes"]) == 0
    out = capsys.readouterr().out
    assert "      root (Path) = \"data/shapes\"\n          the tree\n" in out
    assert "      mode ('fast' | 'exact') = \"fast\"\n" in out
    assert "      sizes (list[int], length >= 1) = [8, 16]\n" in out
    assert "      scale (float, > 0, <= 1) = 0.5\n" in out


def _docs_table(heading: str) -> dict[str, list[str]]:
    text = (ROOT / "docs" / "datasets.md").read_text()
    section = text.split(heading, 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_docs_document_every_folder_option_with_its_type_and_default():
    table = _docs_table("### `folder` options")
    options = describe_options(FolderOptions)
    assert list(table) == [o["name"] for o in options]
    for o in options:
        default = ("required" if o["required"] else "unset" if o["default"] is None
                   else json.dumps(o["default"]))
        assert table[o["name"]][:2] == [o["type"], default], o["name"]
        assert table[o["name"]][2], f"{o['name']} has no meaning in docs/datasets.md"

"""The machine record of timed results: CPU model and features from /proc/cpuinfo's format."""

from __future__ import annotations

import json

from groupsup.machine import cpu_info, describe, differences, machine, native_bf16

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu vme sse2 avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile

processor\t: 1
model name\t: something else
flags\t\t: fpu
"""


def test_cpu_info_reads_the_first_cpus_model_and_flags(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    model, flags = cpu_info(str(path))
    assert model == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"
    assert {"avx2", "avx512f", "amx_bf16"} <= flags and "fpu" in flags
    assert native_bf16(flags)
    assert not native_bf16(frozenset({"avx2", "avx512f"}))
    assert cpu_info(str(tmp_path / "absent"))[1] == frozenset()


def test_the_record_is_json_and_its_differences_are_named():
    info = machine()
    assert json.loads(json.dumps(info)) == info
    assert info["threads"] >= 1 and info["torch"] and info["cpu"]
    assert set(info["cpu_features"]) <= {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
                                         "amx_tile", "amx_bf16"}
    other = {**info, "threads": info["threads"] + 1, "platform": "elsewhere"}
    assert differences(info, other) == {"threads": (info["threads"], info["threads"] + 1)}
    assert info["cpu"] in describe(info) and "torch threads" in describe(info)

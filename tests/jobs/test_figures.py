"""One set of rules for readable figures: jobs.figures (the page's filters)
and static/js/figures.js (the live updates) give the same text for the same
inputs; the JS is run by node on the module itself."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from jobs import figures

JS = Path(__file__).resolve().parents[2] / "static" / "js" / "figures.js"
SIZES = [0, 1, 999, 1023, 1024, 1536, 10 * 1024 - 1, 102_400, 1_048_575, 1_048_576, 10_590_617, 104_805_376,
         189_735_486, 209_715_738, 1_073_741_823, 1_610_612_736, 5 * 1024**4, 3 * 1024**6, 0.4, 1023.6, None, -1, "x"]
COUNTS = [0, 1, 12, 0.0, 10_000_000, None, -1]
SECONDS = [0, 0.04, 0.05, 0.4, 0.5, 1, 9.94, 9.96, 15, 59.4, 59.6, 60, 61, 125, 3600, 3720, 3725, 86399.6, 86400, 90000, 200000, None, -5]


def test_examples():
    assert figures.size(209_715_738) == "200 MiB"
    assert figures.speed(10_590_617) == "10.1 MiB/s"
    assert figures.speed(189_735_486) == "181 MiB/s"
    assert figures.eta(15) == "ETA 15 s"
    assert figures.duration(3720) == "1 h 2 min"
    assert figures.size(1023) == "1023 B" and figures.size(1_048_575) == "1 MiB"
    assert figures.size(None) == figures.size(-1) == "–"
    assert figures.count(3, 12) == "3 of 12" and figures.size_of(0, 1024) == "0 B of 1 KiB"


def test_python_and_javascript_agree():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = f"""
import * as f from {json.dumps(JS.as_uri())};
const sizes = {json.dumps(SIZES)}, counts = {json.dumps(COUNTS)}, seconds = {json.dumps(SECONDS)};
console.log(JSON.stringify({{
  size: sizes.map(f.size), speed: sizes.map(f.speed),
  duration: seconds.map(f.duration), eta: seconds.map(f.eta),
  count: counts.map((v) => f.count(3, v)), sizeOf: sizes.map((v) => f.sizeOf(1024, v)),
}}));
"""
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True,
                         timeout=30)
    js = json.loads(out.stdout)
    assert js["size"] == [figures.size(v) for v in SIZES]
    assert js["speed"] == [figures.speed(v) for v in SIZES]
    assert js["duration"] == [figures.duration(v) for v in SECONDS]
    assert js["eta"] == [figures.eta(v) for v in SECONDS]
    assert js["count"] == [figures.count(3, v) for v in COUNTS]
    assert js["sizeOf"] == [figures.size_of(1024, v) for v in SIZES]


@pytest.mark.parametrize(("language", "po"), [("ko", "ko"), ("zh-hans", "zh_Hans")])
def test_python_and_javascript_agree_in_chinese_and_korean(language, po):
    """The page's scripts read the djangojs catalog (/jsi18n/'s gettext and
    get_format); here node gets the same catalog's translations as globals,
    and the figures must read as the server's in that language."""
    from babel.messages.pofile import read_po
    from django.utils import translation
    from django.utils.formats import get_format

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    catalog = read_po((JS.parents[2] / "locale" / po / "LC_MESSAGES" / "djangojs.po").open("rb"), locale=po)
    strings = {m.id: m.string for m in catalog if m.id and isinstance(m.id, str)}
    with translation.override(language):
        point = get_format("DECIMAL_SEPARATOR")
        expected = {"duration": [figures.duration(v) for v in SECONDS], "eta": [figures.eta(v) for v in SECONDS],
                    "speed": [figures.speed(v) for v in SIZES], "sizeOf": [figures.size_of(1024, v) for v in SIZES],
                    "count": [figures.count(3, v) for v in COUNTS]}
    script = f"""
const strings = {json.dumps(strings)};
globalThis.gettext = (s) => strings[s] || s;
globalThis.get_format = (name) => name === "DECIMAL_SEPARATOR" ? {json.dumps(point)} : name;
const f = await import({json.dumps(JS.as_uri())});
const sizes = {json.dumps(SIZES)}, counts = {json.dumps(COUNTS)}, seconds = {json.dumps(SECONDS)};
console.log(JSON.stringify({{
  duration: seconds.map(f.duration), eta: seconds.map(f.eta), speed: sizes.map(f.speed),
  sizeOf: sizes.map((v) => f.sizeOf(1024, v)), count: counts.map((v) => f.count(3, v)),
}}));
"""
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True,
                         timeout=30)
    js = json.loads(out.stdout)
    assert js == expected
    assert any("秒" in e or "초" in e for e in expected["eta"])  # it is the language, not the English msgids

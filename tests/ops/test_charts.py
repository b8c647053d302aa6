"""The dashboard's SVG charts (ops.charts): drawn twice (wide, narrow), short
tick labels, whole-number ticks for counts."""

from __future__ import annotations

from ops.charts import compact, render
from ops.series import Series


def test_compact_labels():
    assert [compact(v) for v in (0, 7, 12.5, 950, 12_400, 48_000, 1_200_000, 3_000_000)] == [
        "0", "7", "12.5", "950", "12k", "48k", "1.2M", "3M"]


def test_each_chart_is_drawn_wide_and_narrow_fetching_nothing():
    html = str(render(Series("jobs", "Jobs <finished>", labels=["a", "b", "c"], values={"completed": [0, 3, 7]})))
    assert html.count("<svg") == 2 and '<div class="svg-wide">' in html and '<div class="svg-narrow">' in html
    # pygal inlines its config object only: no script is fetched.
    assert "<script src" not in html and "kozea.github.io" not in html and "Jobs &lt;finished&gt;" in html


def test_counts_get_whole_number_ticks():
    html = str(render(Series("jobs", "Jobs", labels=["a", "b"], values={"completed": [0, 0]})))
    assert ">0.5<" not in html and ">0.1<" not in html and ">1<" in html
    html = str(render(Series("activity", "Users", labels=["a", "b"], values={"users": [5760, 120]})))
    assert ">6000<" in html and ">1000<" in html and ">5500<" not in html

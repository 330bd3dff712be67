"""The ``scale`` section of ``python -m bench`` (issue 28) on the release graph (the 10k size), live and bounded:
the three servers measured, the table in ``latest.md`` and the picture drawn from the figures of the run.

One run of ``python -m bench --only scale --scale 10k`` with one-second wrk runs (~30 s): every server it starts
is on loopback and stopped by the bench, and the run itself is bounded by the subprocess's timeout.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from bench.model import Results, ScaleRow
from bench.report import TIMES
from bench.scale import parse_size
from bench.scale_plot import PANELS, SERIES
from bench.servers import executable
from bench.targets import scale
from bench.workloads import UNIQUE_WORKLOADS
from bench.wrk import WrkResult, find_wrk

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(find_wrk() is None or executable("oxigraph") is None, reason="needs wrk and oxigraph"),
]
SVG = "{http://www.w3.org/2000/svg}"
SERVERS = [key for key, _, _ in SERIES]
FIGURES = ("start_s", "pss_one_mb")
"""The field each panel of :data:`bench.scale_plot.PANELS` draws, in order."""


@pytest.fixture(scope="module")
def run(built_nt: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, ET.Element]:
    out = tmp_path_factory.mktemp("scale")
    argv = [sys.executable, "-m", "bench", "--only", "scale", "--scale", "10k", "--duration", "1", "--warmup", "0"]
    argv += ["--data", str(built_nt), "--out", str(out), "--plot", str(out / "readme.svg")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "scale.svg").read_bytes() == (out / "readme.svg").read_bytes()
    results = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    return results, (out / "latest.md").read_text(encoding="utf-8"), ET.parse(out / "scale.svg").getroot()  # noqa: S314 (ours)


def test_parse_size_reads_the_short_forms_and_refuses_the_rest() -> None:
    assert [parse_size(text) for text in ("10000", "10k", "1M", "2.5m")] == [10_000, 10_000, 1_000_000, 2_500_000]
    with pytest.raises(ValueError, match="not a number of triples"):
        parse_size("ten")


def test_every_server_is_measured_on_a_graph_of_at_least_the_size_asked(run: tuple[dict[str, Any], str, Any]) -> None:
    rows = {row["server"]: row for row in run[0]["scale"]}
    assert sorted(rows) == sorted(SERVERS), [row["note"] for row in rows.values()]
    for key, row in rows.items():
        assert row["triples"] >= 10_000, key
        assert row["start_s"] is not None, (key, row["note"])  # the note says why (a first attempt's failure may stay)
        assert 0 < row["health_s"] <= row["start_s"] < 60, key
        assert row["pss_one_mb"] > 0, key
        assert row["pss_loaded_mb"] > 0, key  # after its unique runs
        assert sorted(row["unique"]) == sorted(UNIQUE_WORKLOADS), (key, row["note"])  # GET and both POSTs
        for workload, measured in row["unique"].items():
            assert measured["requests"] > 0, (key, workload)
            assert measured["non_2xx"] == 0, (key, workload)
    for key in SERVERS:  # the bundle, oxigraph load, publishing into oxigraph serve
        assert rows[key]["prepare_s"] > 0
        assert rows[key]["disk_mb"] > 0
    assert rows["sparql"]["store_pss_mb"] > 0
    for key in ("ours", "sparql"):  # two replicas hold more than one, and the second one's interpreter is not free
        assert rows[key]["pss_one_mb"] < rows[key]["pss_two_mb"] < 3 * rows[key]["pss_one_mb"]


def test_the_report_has_a_row_per_server_with_the_ratios_to_oxigraph(run: tuple[dict[str, Any], str, Any]) -> None:
    results, markdown, _ = run
    section = markdown[markdown.index("## Scale") :]
    size = f"| {results['scale'][0]['triples']:,} "  # the release graph's size, as the table writes it
    rows = [line for line in section.splitlines() if line.startswith(size)]
    assert len(rows) == len(results["scale"])
    peer = next(row for row in results["scale"] if row["server"] == "oxigraph")["unique"]
    ours = next(row for row in results["scale"] if row["server"] == "ours")["unique"]
    ratios = " / ".join(f"{TIMES}{ours[w]['rps'] / peer[w]['rps']:.2f}" for w in UNIQUE_WORKLOADS)
    assert ratios in next(line for line in rows if "ours (oxigraph engine" in line)  # GET, form, query in order
    judged = {target["name"]: target for target in results["targets"]}
    start = next(target for name, target in judged.items() if name.startswith("replica start at 1M"))
    assert start["status"] == "N/A"  # 10k only: the 1M targets are not judged
    for workload, how in zip(UNIQUE_WORKLOADS, ("GET", "POST form", "POST sparql-query"), strict=True):
        at_10k = judged[f"unique ad-hoc queries ({how}) at 10k triples, one replica"]
        assert at_10k["status"] in {"PASS", "MISS"}, at_10k  # judged on this run's figures
        assert f"{ours[workload]['rps']:,.0f} vs {peer[workload]['rps']:,.0f} req/s" in at_10k["measured"]
        assert judged[f"unique ad-hoc queries ({how}) at 1M triples, one replica"]["status"] == "N/A"


def test_the_picture_places_each_figure_of_the_run_on_log_axes(run: tuple[dict[str, Any], str, ET.Element]) -> None:
    """One dot per server and panel; within a panel, a larger figure is drawn higher (SVG y grows downwards),
    and each dot's height is proportional to the log of its figure (the axes are in decades)."""
    results, _, svg = run
    dots = svg.findall(f"{SVG}circle")
    assert len(dots) == len(PANELS) * len(results["scale"])
    colours = {key: colour for key, _, colour in SERIES}
    assert len(PANELS) == len(FIGURES)
    for index, field in enumerate(FIGURES):
        panel = dots[index * len(SERIES) : (index + 1) * len(SERIES)]
        by_colour = {dot.get("fill"): float(dot.get("cy") or 0) for dot in panel}
        figures = {row["server"]: row[field] for row in results["scale"]}
        heights = {key: by_colour[colours[key]] for key in figures}
        order = sorted(figures, key=lambda key: figures[key])
        assert sorted(heights, key=lambda key: -heights[key]) == order, (figures, heights)
        low, middle, high = order
        if figures[high] > figures[low]:
            gap = heights[low] - heights[high]
            expected = gap * math.log(figures[middle] / figures[low]) / math.log(figures[high] / figures[low])
            assert heights[low] - heights[middle] == pytest.approx(expected, abs=1.0)


def test_a_row_of_one_size_does_not_stand_for_another() -> None:
    """Judged from a ``--scale 10M`` run's rows only: the 10M start is judged, the 1M and 10k targets are not
    (a 10M replica's memory or ratio is no figure at 1M), whatever that row measured."""
    fast = WrkResult(requests=60, seconds=6, rps=10, p50_ms=1, p90_ms=2, p99_ms=3, avg_ms=1, max_ms=4, non_2xx=0)
    slow = dataclasses.replace(fast, rps=1, p99_ms=30)
    ours = ScaleRow(10_004_961, "ours", "ours", start_s=0.8, health_s=0.7, pss_one_mb=300, pss_two_mb=400)
    ours.unique = dict.fromkeys(UNIQUE_WORKLOADS, fast)
    peer = ScaleRow(10_004_961, "oxigraph", "Oxigraph")
    peer.unique = dict.fromkeys(UNIQUE_WORKLOADS, slow)
    results = Results(machine={}, options={}, started="", scale=[ours, peer])
    judged = {target.name: target.status for target in scale(results)}
    assert judged == {
        **{name: "N/A" for name in judged if " 1M " in name or " 10k " in name},
        "replica start at 10M triples, ours": "PASS",
    }
    assert len(judged) == 2 + 2 * len(UNIQUE_WORKLOADS) + 1

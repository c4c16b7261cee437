"""experiments.analysis.series_style: a dozen losses in one figure, none alike."""

from __future__ import annotations

import pytest
from matplotlib.colors import to_hex

from experiments.analysis.figures_cost import error_vs_cost_figure
from experiments.analysis.series_style import series_style
from experiments.analysis.summary import SummaryRow


def test_twenty_distinct_styles_first_ten_the_default_cycle() -> None:
    styles = [series_style(i) for i in range(20)]
    assert len({tuple(s.values()) for s in styles}) == 20
    assert [s["color"] for s in styles[:10]] == [f"C{i}" for i in range(10)]
    assert {s["linestyle"] for s in styles[:10]} == {"-"}
    assert series_style(20) == series_style(0)  # beyond twenty they repeat
    for bad in (-1, 1.0, True, "3"):
        with pytest.raises(ValueError, match="index must be a non-negative int"):
            series_style(bad)


def test_error_vs_cost_tells_twelve_losses_apart() -> None:
    rows = []
    for i in range(12):
        loss = f"loss{i:02d}"
        rows += [
            SummaryRow("granular", loss, "test/theta_l1", 3, 100.0 + i, 5.0, 3, ""),
            SummaryRow("granular", loss, "step_time_s", 3, 0.1 * (i + 1), 0.01, 3, ""),
        ]
    fig = error_vs_cost_figure(rows, reference="loss00")
    points = [bars.lines[0] for bars in fig.axes[0].containers]  # each errorbar's data point
    assert len(points) == 12
    looks = {(to_hex(p.get_color()), p.get_marker()) for p in points}
    assert len(looks) == 12  # with ten colours alone, loss10 and loss11 would repeat two

"""The app's figures: what the head learned, how it got there, and what it still confuses.

Each figure is two steps: a function that turns the session's numbers into a tidy
`pandas.DataFrame` (tested on real values), and one that draws it as an Altair chart. That one
chart is what the browser shows and what the downloads export: the PNG and every frame of the
GIF are the same Vega-Lite specs rendered by vl-convert, so there is one drawing of each figure.
Nothing here imports Streamlit, so the figures can be built and checked without a server.

One module per family of figures; this package only names them, so `plots.X` reads as before:

- `style`: the colours, the names of the task's answers, the symmetric colour scale, `Figure`.
- `live`: `LiveChart` and `live_spec`, the spec kept per shape for a page that redraws a chart
  after every round.
- `weights`: the head's weights as an outputs x units heatmap, and the `HeadLayout` that names
  its rows and columns.
- `evolution`: the weights round by round, as one heatmap.
- `histogram`: the head's p over the pool in bins, by truth, by right or wrong, or by answer.
- `by_class`: the head's p per true class, a box each.
- `curve`: the learning curve with its ceiling and stop, and the curve before and after
  fine-tuning.
- `rare_curve`: the learning curve of a rare answer: PR-AUC, precision and recall over the
  positives found per label spent.
- `pool_map`: the pool map, coloured by the head's answer, with the labels and the open batch.
- `comparison`: strategies compared over seeds, and a sweep's grid at a glance.
- `export`: the charts as PNG, the page's figures in one PNG, the evolution as a GIF.
"""

from tl_active.plots.by_class import (
    by_class_chart,
    by_class_live,
    class_positions,
    p_by_class_chart,
    p_by_class_columns,
    p_by_class_frame,
)
from tl_active.plots.comparison import YOURS, compare_chart, sweep_chart
from tl_active.plots.curve import (
    CEILING_TYPES,
    STOP_COLOUR,
    STOP_TYPES,
    before_after_chart,
    before_after_frame,
    ceiling_columns,
    ceiling_frame,
    curve_chart,
    curve_columns,
    curve_frame,
    curve_live,
    learning_curve,
    stop_columns,
    stop_frame,
    stop_marker,
)
from tl_active.plots.evolution import (
    EVOLUTION_MAX_FIT,
    EVOLUTION_ROWS_AT_STEP,
    evolution_chart,
    evolution_columns,
    evolution_figure,
    evolution_frame,
    evolution_heatmap,
    evolution_live,
    evolution_shape,
    evolution_values,
    round_label,
)
from tl_active.plots.export import (
    MAX_GIF_FRAMES,
    PNG_SCALE,
    counts_histogram,
    evolution_frame_charts,
    evolution_gif,
    figures_chart,
    figures_png,
    to_png,
)
from tl_active.plots.histogram import (
    HISTOGRAM_BINS,
    answer_histogram_chart,
    answer_histogram_frame,
    answer_histogram_live,
    histogram_chart,
    histogram_columns,
    histogram_frame,
    histogram_groups,
    histogram_live,
    p_bars,
    p_by_answer_histogram,
    p_histogram,
)
from tl_active.plots.live import MAX_TEMPLATES, LiveChart, live_spec
from tl_active.plots.pool_map import MAP_BOX, MapPoints, map_chart, map_live, map_table
from tl_active.plots.rare_curve import (
    PR_AUC,
    found_columns,
    rare_curve_chart,
    rare_curve_columns,
    rare_curve_live,
    rare_learning_curve,
)
from tl_active.plots.style import (
    CLASS_COLOUR,
    NEGATIVE_COLOUR,
    NORM_SCHEME,
    POSITIVE_COLOUR,
    RIGHT_COLOUR,
    TABLEAU,
    WEIGHT_SCHEME,
    WRONG_COLOUR,
    Figure,
    answer_name,
    p_label,
    symmetric_extent,
)
from tl_active.plots.weights import (
    BIAS,
    BIAS_GAP,
    MAX_UNITS,
    HeadLayout,
    bias_note,
    head_layout,
    shown_units,
    units_note,
    weight_history,
    weights_chart,
    weights_columns,
    weights_figure,
    weights_frame,
    weights_heatmap,
    weights_live,
    weights_values,
)

__all__ = [
    # pool_map
    "MAP_BOX",
    "MapPoints",
    "map_chart",
    "map_live",
    "map_table",
    # rare_curve
    "PR_AUC",
    "found_columns",
    "rare_curve_chart",
    "rare_curve_columns",
    "rare_curve_live",
    "rare_learning_curve",
    # style
    "CLASS_COLOUR",
    "NEGATIVE_COLOUR",
    "NORM_SCHEME",
    "POSITIVE_COLOUR",
    "RIGHT_COLOUR",
    "TABLEAU",
    "WEIGHT_SCHEME",
    "WRONG_COLOUR",
    "Figure",
    "answer_name",
    "p_label",
    "symmetric_extent",
    # live
    "MAX_TEMPLATES",
    "LiveChart",
    "live_spec",
    # weights
    "BIAS",
    "BIAS_GAP",
    "MAX_UNITS",
    "HeadLayout",
    "bias_note",
    "head_layout",
    "shown_units",
    "units_note",
    "weight_history",
    "weights_chart",
    "weights_columns",
    "weights_figure",
    "weights_frame",
    "weights_heatmap",
    "weights_live",
    "weights_values",
    # evolution
    "EVOLUTION_MAX_FIT",
    "EVOLUTION_ROWS_AT_STEP",
    "evolution_chart",
    "evolution_columns",
    "evolution_figure",
    "evolution_frame",
    "evolution_heatmap",
    "evolution_live",
    "evolution_shape",
    "evolution_values",
    "round_label",
    # histogram
    "HISTOGRAM_BINS",
    "answer_histogram_chart",
    "answer_histogram_frame",
    "answer_histogram_live",
    "histogram_chart",
    "histogram_columns",
    "histogram_frame",
    "histogram_groups",
    "histogram_live",
    "p_bars",
    "p_by_answer_histogram",
    "p_histogram",
    # by_class
    "by_class_chart",
    "by_class_live",
    "class_positions",
    "p_by_class_chart",
    "p_by_class_columns",
    "p_by_class_frame",
    # curve
    "CEILING_TYPES",
    "STOP_COLOUR",
    "STOP_TYPES",
    "before_after_chart",
    "before_after_frame",
    "ceiling_columns",
    "ceiling_frame",
    "curve_chart",
    "curve_columns",
    "curve_frame",
    "curve_live",
    "learning_curve",
    "stop_columns",
    "stop_frame",
    "stop_marker",
    # comparison
    "YOURS",
    "compare_chart",
    "sweep_chart",
    # export
    "MAX_GIF_FRAMES",
    "PNG_SCALE",
    "counts_histogram",
    "evolution_frame_charts",
    "evolution_gif",
    "figures_chart",
    "figures_png",
    "to_png",
]

"""Live figures: the charts a page draws again after every round, their specs kept per shape.

A `LiveChart` separates what changes from what stays: its data goes by name and its changing
numbers as Vega-Lite params, so the spec depends only on its shape. `live_spec` makes that spec
once per shape and keeps it, behind a lock, for every session of the server (a few per layout
and question); each round then only puts in the data and the params' values.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import pyarrow as pa


@dataclass(frozen=True)
class LiveChart:
    """A figure as a page draws it after every round: what changes, apart from what stays.

    `build` makes the Altair chart with its data by name (`alt.NamedData`) and its changing
    numbers as Vega-Lite params; its spec depends only on `shape`, so `live_spec` turns it into
    Vega-Lite once per shape (tens of milliseconds) and afterwards only puts in `datasets` and
    the `params`' values (well under one).
    """

    shape: tuple
    build: Callable[[], alt.TopLevelMixin]
    datasets: Mapping[str, pa.Table]  # built from columns: no data frame on the way
    params: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


MAX_TEMPLATES = 256  # specs kept, over every session of a server: a few per layout and question
_templates: OrderedDict[tuple, dict] = OrderedDict()
_templates_lock = threading.Lock()


def _template(chart: LiveChart) -> dict:
    with _templates_lock:
        spec = _templates.get(chart.shape)
        if spec is not None:
            _templates.move_to_end(chart.shape)
            return spec
    spec = chart.build().to_dict(validate=False)
    spec.pop("config", None)  # Altair's default view size; the page sizes the chart
    with _templates_lock:
        _templates[chart.shape] = spec
        while len(_templates) > MAX_TEMPLATES:
            _templates.popitem(last=False)
    return spec


def live_spec(chart: LiveChart) -> dict:
    """The chart's Vega-Lite spec with this round's data and params, from the kept template.

    The template is shared and never changed: the spec returned is a new top-level dict whose
    `datasets` and `params` are new lists and dicts (the rest is the template's own).
    """
    template = _template(chart)
    params = []
    for param in template.get("params", []):
        name = param.get("name")
        params.append({**param, "value": chart.params[name]} if name in chart.params else param)
    missing = set(chart.params) - {p.get("name") for p in params}
    if missing:
        raise ValueError(f"the {chart.shape[0]} chart has no params {sorted(missing)}")
    spec = dict(template)
    spec["datasets"] = {**template.get("datasets", {}), **chart.datasets}
    if params:
        spec["params"] = params
    return spec

"""The exporter's metric families and their text exposition (format 0.0.4).

``Family`` holds one family's rows before they become prometheus_client
objects (``Family.metric()``, what ``collect()`` yields) or text
(``render()``, what the HTTP server sends). ``render`` writes what
prometheus_client's ``generate_latest`` would, without building its per-sample
objects (with latency histograms for 100 containers x 50 syscalls a scrape has
~80,000 samples, and ``generate_latest`` spends most of its time validating
label names on every sample); a unit test checks the two byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString


@dataclass
class Family:
    """One metric family, before it becomes prometheus_client objects or text.

    ``rows`` hold label values in ``labels`` order, then the value; for
    histograms ``(values, cumulative counts, sum)``, one count per bound of
    ``les`` and the +Inf count last (the bounds are the family's)."""

    name: str  # counters without _total
    type: str  # counter, gauge, histogram
    doc: str
    labels: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)
    les: tuple[str, ...] = ()  # histograms: the finite bucket bounds, as rendered

    def add(self, values: Sequence[str], value: float) -> None:
        self.rows.append((tuple(values), value))

    def metric(self) -> Metric:
        if self.type in ("counter", "gauge"):
            cls = CounterMetricFamily if self.type == "counter" else GaugeMetricFamily
            m = cls(self.name, self.doc, labels=self.labels)
            for v, x in self.rows:
                m.add_metric(v, x)
            return m
        h = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        les = (*self.les, "+Inf")
        for v, counts, total in self.rows:
            h.add_metric(v, list(zip(les, counts, strict=True)), total)
        return h


# -- text rendering ------------------------------------------------------------------


def _go_float(v: float | int) -> str:
    """floatToGoString, with a fast path for the common small integers."""
    if type(v) is int and 0 <= v < 1_000_000:
        return f"{v}.0"
    return floatToGoString(v)


class _Escapes(dict):
    """Label values escaped as the text format wants, memoised (few distinct values)."""

    def __missing__(self, s: str) -> str:
        e = self[s] = s.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        return e


class LabelCache:
    """Rendered label sets, kept from one scrape to the next: the series are
    mostly the same at every scrape, and building ``k="v",...`` strings was
    most of the rendering time. Bounded: cleared when it outgrows ``limit``."""

    def __init__(self, limit: int = 500_000) -> None:
        self.limit = limit
        self.esc = _Escapes()
        self.plain: dict[tuple, str] = {}
        self.hist: dict[tuple, tuple[str, str]] = {}

    def trim(self) -> None:
        if len(self.plain) + len(self.hist) > self.limit:
            self.plain.clear()
            self.hist.clear()
        if len(self.esc) > self.limit:
            self.esc.clear()


def render(families: Sequence[Family], out: list[str] | None = None,
           cache: LabelCache | None = None) -> list[str]:
    """The text exposition (format 0.0.4) of ``families``, as generate_latest
    would write it: labels sorted by name, values as Go floats."""
    out = [] if out is None else out
    cache = LabelCache() if cache is None else cache
    cache.trim()
    esc = cache.esc
    plain = cache.plain
    hist = cache.hist
    for f in families:
        mname = f.name + "_total" if f.type == "counter" else f.name
        doc = f.doc.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {mname} {doc}\n# TYPE {mname} {f.type}\n")
        names = f.labels
        order = sorted(range(len(names)), key=names.__getitem__)
        if f.type != "histogram":
            if not names:
                for _values, x in f.rows:
                    out.append(f"{mname} {_go_float(x)}\n")
                continue
            head = mname + "{"
            for values, x in f.rows:
                key = (names, values)
                lab = plain.get(key)
                if lab is None:
                    lab = plain[key] = ",".join(f'{names[i]}="{esc[values[i]]}"' for i in order)
                # _go_float's fast path, inline: most values are small counts
                if type(x) is int and 0 <= x < 1_000_000:
                    out.append(f"{head}{lab}}} {x}.0\n")
                else:
                    out.append(f"{head}{lab}}} {_go_float(x)}\n")
            continue
        # le sorts among the other labels: split them around it
        before = [i for i in order if names[i] < "le"]
        after = [i for i in order if names[i] > "le"]
        les = f.les
        for values, counts, total in f.rows:
            # one %-template per series: its lines with the label sets filled in
            # (label values escaped for %), the numbers left as conversions
            hkey = (mname, names, values, les)
            parts = hist.get(hkey)
            if parts is None:
                pre = "".join(f'{names[i]}="{esc[values[i]]}",' for i in before)
                post = "".join(f',{names[i]}="{esc[values[i]]}"' for i in after)
                all_ = ",".join(f'{names[i]}="{esc[values[i]]}"' for i in order)
                lines = [f'{mname}_bucket{{{pre}le="{le}"{post}}} ' for le in (*les, "+Inf")]
                lines += [f"{mname}_count{{{all_}}} ", f"{mname}_sum{{{all_}}} "]
                lines = [ln.replace("%", "%%") for ln in lines]
                n = len(lines) - 1  # the counts; the sum is always a float string
                small = "".join(f"{ln}%d.0\n" for ln in lines[:n]) + f"{lines[n]}%s\n"
                general = "".join(f"{ln}%s\n" for ln in lines)
                parts = hist[hkey] = (small, general)
            # counts are cumulative: the +Inf one is the largest
            if counts[-1] < 1_000_000:
                out.append(parts[0] % (*counts, counts[-1], floatToGoString(total)))
            else:
                out.append(parts[1] % (*map(_go_float, counts), _go_float(counts[-1]),
                                       floatToGoString(total)))
    return out

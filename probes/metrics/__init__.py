"""The metrics probe: per (cgroup, syscall) counters and latency histograms kept in
BPF maps, nothing sent per event (``cdig exporter``; ``cdig top``'s exact counts
with ``-DTOP_COUNTERS``, ``tui/counters.py``).

    program.bpf.c  the BPF C
    record.h       the map keys and values, as C structs
    layout.py      their numpy mirrors and the per-syscall class array
    config.py      kernel features, MetricsConfig, the -D defines
    maps.py        MapSnapshot and MetricsMaps (the exporter's view of the maps)
    slots.py       SlotCounts: the count array without latency (rows, freed slots)
    probe.py       MetricsProbe: compile, load (bcc), fill the class array
"""

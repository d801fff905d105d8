"""trace_throughput.py's report: medians and ratios per configuration
(``summarise``) and the text tables (``render``)."""

from __future__ import annotations

from typing import Any

from benchlib import med


def fmt(v: Any, spec: str = ",.0f", suffix: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and spec.endswith("f") and abs(v) >= 1e4 and "," not in spec:
        spec = "," + spec
    return f"{v:{spec}}{suffix}"


ROW_LABELS = {
    "baseline": "baseline (untraced)",
    "cdig-null": "cdig trace -j > /dev/null",
    "cdig-file": "cdig trace -j > tmpfs file",
    "cdig-write": "cdig trace -w tmpfs file",
    "drain": "cdig probe + bulk drain, no decode",
    "stock": "bcc stock callback (48 B recs)",
    "bulk48": "same 48 B prog + cdig bulk drain",
    "bpftrace": "bpftrace printf > tmpfs file",
    "cdig-file-old": "--old-tree: cdig trace -j > file",
    "cdig-write-old": "--old-tree: cdig trace -w file",
}


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Medians per configuration and the ratios asked for."""
    summary: dict[str, Any] = {}
    for key, runs in results.items():
        if key in ("ttfe", "ttfe-old", "profile") or not runs:
            continue
        ok = [r for r in runs if "error" not in r]
        if not ok:
            summary[key] = {"error": runs[-1].get("error")}
            continue
        keys = {k for r in ok for k, v in r.items() if isinstance(v, int | float)
                and not isinstance(v, bool) and not k.startswith("t_")}
        summary[key] = {k: med(r.get(k) for r in ok) for k in sorted(keys)}
        summary[key]["runs_ok"] = len(ok)
        summary[key]["runs_with_foreign_bpf"] = sum(1 for r in ok if r.get("foreign_bpf"))
        summary[key]["runs_failed"] = len(runs) - len(ok)
        exp = summary[key].get("expected")
        if exp:
            summary[key]["lost_pct"] = 100.0 * (summary[key].get("lost") or 0) / exp
    base = summary.get("baseline", {}).get("ns_per_call")
    base_cpu = summary.get("baseline", {}).get("cpu_ns_per_call")
    ref_bt = summary.get("bpftrace", {}).get("events_per_s")
    ref_stock = summary.get("stock", {}).get("events_per_s")
    for s in summary.values():
        if "error" in s:
            continue
        if base and s.get("ns_per_call"):
            s["x_baseline"] = s["ns_per_call"] / base
            s["added_ns_per_call"] = s["ns_per_call"] - base
        if base_cpu and s.get("cpu_ns_per_call"):
            s["added_cpu_ns_per_call"] = s["cpu_ns_per_call"] - base_cpu
        if s.get("events_per_s"):
            s["x_bpftrace_events_per_s"] = s["events_per_s"] / ref_bt if ref_bt else None
            s["x_stock_events_per_s"] = s["events_per_s"] / ref_stock if ref_stock else None
    return summary


def _code_line(meta: dict[str, Any]) -> str:
    """Which code ran: the script's checkout, or the trees given (a git archive
    carries no .git, so its commit is whatever the caller named it)."""
    trees = [f"{flag} {meta[key]}" for flag, key in (("--tree", "tree"), ("--old-tree", "old_tree"))
             if meta.get(key)]
    head = meta.get("git_head")
    line = f"code: git {head}" if head else "code: the script's own tree (no git metadata)"
    if meta.get("git_modified"):
        line += f" + uncommitted changes in {', '.join(meta['git_modified'])}"
    if trees:
        line += "; configurations run from " + ", ".join(trees)
    return line


def render(meta: dict[str, Any], summary: dict[str, Any], results: dict[str, Any],
           commands: dict[str, str]) -> str:
    L: list[str] = []
    L.append(f"cdig trace throughput — {meta['date']}, {meta['nproc']} vCPU, "
             f"kernel {meta['kernel']}, {meta['cpu']}")
    L.append(_code_line(meta))
    L.append(f"workload: {meta['calls']:,} x getppid() in a static C loop "
             f"('{meta['comm']}'), median of {meta['repeat']} runs; "
             f"fixed exit cost {meta['fixed_us']:.0f} us subtracted")
    L.append("")
    hdr = (f"{'configuration':36} {'ns/call':>8} {'x base':>7} {'+ns':>7} {'cpu ns':>7} "
           f"{'+cpu':>7} {'tracer':>6} {'others':>6}")
    L.append("A. the traced loop")
    L.append(hdr)
    L.append("-" * len(hdr))
    rows = [(k, lbl, summary[k]) for k, lbl in ROW_LABELS.items() if k in summary]
    for _key, label, s in rows:
        if "error" in s:
            L.append(f"{label:36} failed: {s['error']}")
            continue
        L.append(
            f"{label:36} {fmt(s.get('ns_per_call')):>8} {fmt(s.get('x_baseline'), '.2f'):>7} "
            f"{fmt(s.get('added_ns_per_call')):>7} {fmt(s.get('cpu_ns_per_call')):>7} "
            f"{fmt(s.get('added_cpu_ns_per_call')):>7} "
            f"{fmt(s.get('tracer_cpus'), '.2f'):>6} {fmt(s.get('other_cpus'), '.2f'):>6}")
    L.append("ns/call: wall time per call of the loop (x base: ÷ baseline, +ns: − baseline).")
    L.append("cpu ns: the loop's own CPU per call (user + sys, BPF programs included; +cpu:")
    L.append("− baseline's, i.e. the in-kernel cost of the probes, less sensitive to contention);")
    L.append("wall > cpu means it waited for a CPU. tracer, others: CPUs' worth of time used")
    L.append("during the loop by the tracer and by every other process (2 = both vCPUs).")
    foreign = {k: s.get("runs_with_foreign_bpf") for k, _, s in rows
               if s.get("runs_with_foreign_bpf")}
    if foreign:
        L.append("WARNING: another process held BPF programs during some runs (its probes may")
        L.append("slow the loop in every configuration, the baseline too): "
                 + ", ".join(f"{k} {v}" for k, v in foreign.items()))
    L.append("")
    hdr = (f"{'configuration':36} {'delivered':>10} {'lost %':>7} {'kdrops':>9} "
           f"{'events/s':>10} {'/bpftr':>6} {'/stock':>6} {'drain s':>7} {'us/ev':>6} "
           f"{'ev/CPU-s':>10}")
    L.append("B. delivery")
    L.append(hdr)
    L.append("-" * len(hdr))
    for key, label, s in rows:
        if key == "baseline" or "error" in s:
            continue
        drain = s.get("drain_after_end_s")
        L.append(
            f"{label:36} {fmt(s.get('delivered')):>10} {fmt(s.get('lost_pct'), '.2f'):>7} "
            f"{fmt(s.get('kernel_dropped')):>9} {fmt(s.get('events_per_s')):>10} "
            f"{fmt(s.get('x_bpftrace_events_per_s'), '.2f'):>6} "
            f"{fmt(s.get('x_stock_events_per_s'), '.2f'):>6} "
            f"{fmt(None if drain is None else max(0.0, drain), '.2f'):>7} "
            f"{fmt(s.get('consumer_us_per_event'), '.2f'):>6} "
            f"{fmt(s.get('capacity_events_per_cpu_s')):>10}")
    L.append("delivered: the loop's events that reached the consumer (expected: N + 3 for")
    L.append("cdig's probe, N + 2 for sys_exit-only programs); lost %: (expected − delivered)")
    L.append("÷ expected. kdrops: drops counted in the kernel (for cdig, of every process:")
    L.append("proc.name is filtered in userspace, so the probe streams the whole host).")
    L.append("events/s: delivered ÷ (release of the loop → last event out); for cdig >")
    L.append("/dev/null the end is cdig's exit (a lower bound). A consumer that keeps up")
    L.append("cannot beat the loop's own rate (1e9 ÷ ns/call): see ev/CPU-s for capacity.")
    L.append("/bpftr, /stock: events/s ÷ bpftrace's, ÷ the stock callback's. drain s: last")
    L.append("event out − loop end. us/ev: the consumer's CPU per record it read (cdig: per")
    L.append("event decoded, all processes, both threads); ev/CPU-s: records per CPU-second.")
    for key in ("cdig-null", "cdig-file", "cdig-write"):
        s = summary.get(key)
        if s and "error" not in s:
            L.append(f"{key}: seen {fmt(s.get('seen'))} events (all processes), "
                     f"cdig CPU {fmt(s.get('consumer_us_per_event'), '.1f')} us per "
                     f"event seen, {fmt(s.get('consumer_us_per_event_shown'), '.1f')} us per "
                     f"event shown; tracer CPUs during the loop "
                     f"{fmt(s.get('tracer_cpus'), '.2f')}; SIGINT → exit "
                     f"{fmt(s.get('signal_to_exit_s'), '.1f')} s"
                     + (f"; last line → exit {fmt(s.get('last_line_to_exit_s'), '.2f')} s"
                        if key in ("cdig-file", "cdig-write") else ""))
    t = results.get("ttfe")
    if t and "error" not in t:
        L.append("")
        L.append(f"C. time to first event: cdig trace -n 1 proc.name={meta['comm']} while "
                 f"'{meta['comm']}' makes ~200 syscalls/s (median of {len(t['e2e_s'])})")
        L.append(f"  start → first line {med(t['e2e_s']):.2f} s; start → exit "
                 f"{med(t['exit_s']):.2f} s (compiled probe cached); without the cache "
                 f"(the first start) {fmt(med(t.get('e2e_cold_s') or []), '.2f')} s")
        L.append("  breakdown (cdig.cli.main run in-process, steps timed by wrapping; "
                 "median of runs):")
        L.append(f"    {'interpreter start (python -c pass)':46} "
                 f"{med(t['interpreter_s']) * 1e3:7.0f} ms")
        for key, title in (("breakdown", "as installed"), ("breakdown_pyc", "with .pyc cache")):
            runs = t.get(key) or []
            if not runs:
                continue
            if key == "breakdown_pyc":
                L.append(f"    with a bytecode cache for cdig's modules (this environment "
                         f"sets PYTHONDONTWRITEBYTECODE): imports "
                         f"{med(r['imports_s'] for r in runs) * 1e3:.0f} ms instead of "
                         f"{med(r['imports_s'] for r in t['breakdown']) * 1e3:.0f} ms")
                continue
            steps = list(runs[0]["steps"])
            for step in steps:
                v = med(r["steps"].get(step) for r in runs)
                L.append(f"    {step:46} {v * 1e3:7.0f} ms")
            L.append(f"    {'= main() start → first line':46} "
                     f"{med(r['main_to_first_line_s'] for r in runs) * 1e3:7.0f} ms "
                     f"(+ imports {med(r['imports_s'] for r in runs) * 1e3:.0f} ms); first "
                     f"line → exit {med(r['first_line_to_exit_s'] for r in runs) * 1e3:.0f} ms"
                     f" ({title})")
    elif t:
        L.append(f"time to first event: failed: {t['error']}")
    t = results.get("ttfe-old")
    if t and "error" not in t:
        L.append(f"  --old-tree: start → first line {med(t['e2e_s']):.2f} s (median of "
                 f"{len(t['e2e_s'])}), the first start {fmt(med(t['e2e_cold_s']), '.2f')} s")
    elif t:
        L.append(f"time to first event, --old-tree: failed: {t['error']}")
    p = results.get("profile")
    if p and "error" not in p:
        L.append("")
        L.append(f"D. cdig userspace cost per event: the loop's {p['records']:,} records, "
                 f"recorded live (the reader drained {p['live_mean_batch']:.0f} records per "
                 f"drain), re-cut into batches of {p['batch']}; thread CPU time, best of "
                 f"{meta['profile_rounds']}; JSON lines of {p['json_line_bytes']:.0f} bytes")
        for st in p["stages"]:
            cum = st["cumulative_ns_per_record"]
            L.append(f"  {st['stage']:40} {st['ns_per_record']:7,.0f} ns   (cumulative "
                     f"{cum:6,.0f} ns = {1e9 / cum if cum else 0:9,.0f} events/s, one core)")
        rp = p["real_pipeline_ns_per_record"]
        L.append(f"  {'cdig Session.run, all of it (check)':40} {rp:7,.0f} ns   "
                 f"= {1e9 / rp:,.0f} events/s")
        L.append("  Session.run by batch size, ns/record: " + ", ".join(
            f"{b['batch']}: {b['ns_per_record']:,.0f}" for b in p["batch_sweep"]))
        L.append("  cProfile of Session.run (it inflates small calls), by own time, "
                 "ns per record:")
        for f in p["cprofile_top"]:
            L.append(f"    {f['tottime_ns_per_record']:7,.0f}  x{f['calls_per_record']:<5.2f} "
                     f"{f['function']}")
    elif p:
        L.append(f"profile: failed: {p['error']}")
    L.append("")
    L.append("commands:")
    for k, v in commands.items():
        L.append(f"  {k:15} {v}")
    return "\n".join(L)

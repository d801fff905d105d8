"""``cdig exporter``: per-container syscall, file, network, process and resource
metrics for Prometheus, counted in the kernel and read at scrape time."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from .collector.cgroup_resources import CgroupResources
from .collector.containers import ContainerResolver
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .exporters import web
from .exporters.listen import is_loopback, parse_listen
from .exporters.names import ResolverNames
from .exporters.prometheus import (
    DEFAULT_BUCKET_SLOTS,
    FINE_BUCKET_SLOTS,
    ExporterCollector,
    check_labels,
)
from .exporters.series import Options
from .exporters.web_config import WebConfigError, load_web_config
from .probes.loader import ProbeError
from .probes.metrics.config import MetricsConfig
from .probes.metrics.probe import MetricsProbe
from .probes.syscall_table import table

log = logging.getLogger("cdig.exporter")

def _options(args: argparse.Namespace, table):
    allow = None
    if args.syscalls:
        allow = frozenset(s.strip() for s in args.syscalls.split(",") if s.strip())
        unknown = sorted(n for n in allow if table.nr(n) is None)
        if unknown:
            raise CliError(f"--syscalls: unknown syscall {unknown[0]!r}", EXIT_USAGE)
    lat: frozenset[str] | None = frozenset()
    if args.latency_syscalls:
        if args.latency_syscalls.strip() == "all":
            lat = None
        else:
            lat = frozenset(s.strip() for s in args.latency_syscalls.split(",") if s.strip())
            unknown = sorted(n for n in lat if table.nr(n) is None)
            if unknown:
                raise CliError(f"--latency-syscalls: unknown syscall {unknown[0]!r}", EXIT_USAGE)
    labels = None
    if args.labels is not None:
        try:
            labels = check_labels([s.strip() for s in args.labels.split(",") if s.strip()])
        except ValueError as e:
            raise CliError(f"--labels: {e}", EXIT_USAGE) from None
    return Options(max_containers=args.max_containers, max_syscalls=args.max_syscalls,
                   syscall_allow=allow, grace=args.grace, walk_interval=args.interval,
                   latency_syscalls=lat, labels=labels)


def run_exporter(args: argparse.Namespace) -> int:
    try:
        listen = parse_listen(args.listen)
    except ValueError as e:
        raise CliError(f"--listen {args.listen!r}: {e}", EXIT_USAGE) from None
    config = None
    if args.web_config:
        try:
            config = load_web_config(args.web_config)
        except WebConfigError as e:
            raise CliError(f"--web-config {args.web_config}: {e}") from None
    tbl = table()
    options = _options(args, tbl)
    n = args.map_entries
    mconf = MetricsConfig(latency=not args.no_latency, syscalls_max=n, latency_max=n,
                          errors_max=max(1024, n // 2), procs_max=max(1024, n // 4),
                          pairing=args.pairing)
    probe = MetricsProbe(mconf, tbl)
    if args.dump_bpf:
        sys.stdout.write(probe.dump())
        return EXIT_OK

    if not is_loopback(listen) and not (config and (config.tls or config.auth)):
        if not args.insecure:
            raise CliError(f"refusing to serve metrics on {listen} without TLS or basic auth: "
                           "give --web-config, listen on loopback, or pass --insecure",
                           EXIT_USAGE)
    if os.geteuid() != 0:
        raise CliError("the exporter needs root (BPF); run with sudo")

    try:
        server = web.MetricsServer(listen, config.ssl_context() if config else None)
    except WebConfigError as e:
        raise CliError(f"--web-config {args.web_config}: {e}") from None
    except OSError as e:
        reason = e.strerror.lower() if e.strerror else str(e)
        raise CliError(f"cannot listen on {listen}: {reason}") from None
    try:
        try:
            probe.load()
        except ProbeError as e:
            raise CliError(str(e)) from None
        return _serve(args, server, probe, options, config, tbl)
    finally:
        server.stop()
        probe.close()


def _serve(args, server, probe, options, config, tbl) -> int:
    disable_created_metrics: Callable[[], object] | None
    try:
        from prometheus_client import disable_created_metrics
    except ImportError:  # < 0.17 (Debian bookworm's, in the image): no _created to disable
        disable_created_metrics = None


    if disable_created_metrics is not None:
        disable_created_metrics()
    resolver = ContainerResolver.for_host(systemd_services=args.systemd_services)
    feats = probe.features
    collector = ExporterCollector(
        probe.maps, ResolverNames(resolver), tbl, options=options,
        resources=CgroupResources(resolver.layout),
        bucket_slots=FINE_BUCKET_SLOTS if args.latency_buckets == "fine" else DEFAULT_BUCKET_SLOTS,
        build_info={"pairing": probe.pairing,
                    "socket_split": "true" if feats.sock_split else "false"})
    registry = CollectorRegistry()
    registry.register(collector)
    resolver.scan()  # containers known (and being named) before the first scrape
    collector.update()
    # the registry is the prometheus_client view (tests read it); HTTP serves the
    # collector's own rendering of the same families, which is much faster
    server.start(web.make_app(web.exposition_app(collector.exposition), config))

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    what = (f"latency histogram: {probe.pairing} pairing" if probe.pairing != "off"
            else "latency histogram off")
    print(f"cdig exporter: serving {server.url} ({what})", file=sys.stderr, flush=True)
    try:
        while not stop.wait(options.walk_interval):
            try:
                collector.update()
            except OSError as e:
                log.warning("cannot read the BPF maps: %s", e)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        resolver.close()
    print("cdig exporter: stopped", file=sys.stderr, flush=True)
    return EXIT_OK

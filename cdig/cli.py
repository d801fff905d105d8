"""cdig's command line: one entry point, one subcommand per job.

Every failure the user can cause (a bad filter, no root, no BPF, a vanished
container) ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from . import __version__
from .collector.capture import CODECS

# cdig does no linear algebra: OpenBLAS's worker threads (one per core, started when
# numpy loads) would only spin beside the ring reader under load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from .errors import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    user_message,
)


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """No garbage collection while a command's modules load, and what they made frozen
    after (gc.freeze: left out of every later collection). Imports make long-lived
    objects (modules, classes, functions, tables), not garbage: numpy's and cdig's let
    the collector pass over them ~50 times (~4 ms of every start), and only disabling
    it would leave one pass over all of them for the first collection after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _fmt(text: str) -> str:
    return text.strip("\n")


TRACE_EPILOG = _fmt("""
examples:
  cdig trace                                   # every syscall of every process
  cdig trace proc.name=nginx                   # one program
  cdig trace -pc container.name=web1           # container-aware output
  cdig trace --container web1 evt.type=openat  # opens in container web1
  cdig trace -c topfiles_bytes container.name=web1   # a chisel: its top files (-cl: all)
  cdig trace -r web.cdig -c fdbytes_by proc.name     # a chisel's argument, on a capture
  cdig trace "evt.failed=true and evt.res=ENOENT"   # files that were not found
  cdig trace -p "%proc.name %fd.name %evt.latency" evt.type=read
  cdig trace -j -n 100 fd.sport=8080           # 100 events as JSON lines
  cdig trace -M 10 --failed                    # failed syscalls for 10 seconds
  cdig trace -A "evt.buffer contains GET"      # I/O data holding GET, as text (-X: hex)
  cdig trace -l                                # list the filter/format fields
  cdig trace -w web.cdig container.name=web1   # capture to a file (mode 0600)
  cdig trace -w cap -C 100 -W 5                # rotate: cap0, cap1 … 100 MB each, keep 5
  cdig trace -r web.cdig -pc evt.type=openat   # read it back: no root, no BPF
  cdig trace -r 'cap*' -n 20                   # a rotation set, in capture order
""")

TOP_EPILOG = _fmt("""
keys: Enter drill down, Backspace up, F2 views (1-9), / or F4 filter, F5/e echo,
F6/d dig, s/S/r sort, p pause, space/n play/step (replay), ? help, q quit
examples:
  cdig top                                     # every container and process, live
  cdig top container.name=web1                 # only what web1 does
  cdig top -d 2 --view procs                   # refresh every 2 s, start in Processes
  cdig top -r web.cdig                         # replay a capture (no root)
  cdig top -r web.cdig --speed 0 --view syscalls   # read it to the end at once
""")

SUMMARY_EPILOG = _fmt("""
views (sysdig chisels):
  proc       busiest processes: events, syscall time, errors   (topprocs)
  container  the same per container
  syscall    calls, errors, total and mean time per syscall     (topscalls, topscalls_time)
  file       bytes read and written per file                    (topfiles_bytes)
  conn       bytes in and out per connection                    (topconns)
  errors     failed syscalls by errno                           (errors)
  user       commands run per user                              (spy_users)
examples:
  cdig summary -r web.cdig --by container
  cdig summary -r web.cdig --by file container.name=web1 --top 5
  cdig summary -r 'cap*' --by syscall --sort time --json
""")

EXPORT_EPILOG = _fmt("""
examples:
  cdig export -r web.cdig --format parquet -o web.parquet
  cdig export -r web.cdig --format csv -o opens.csv evt.type=openat
  duckdb -c 'SELECT "container.name", count(*) FROM "web.parquet" GROUP BY 1'
""")

REPLAY_EXIT_HELP = _fmt("""
exit status: 0 done, 1 error, 2 usage error, 3 a capture read with -r was damaged or
truncated (its intact events before the damage were still processed)
""")
TRACE_EPILOG += "\n" + REPLAY_EXIT_HELP
TOP_EPILOG += "\n" + REPLAY_EXIT_HELP
SUMMARY_EPILOG += "\n" + REPLAY_EXIT_HELP
EXPORT_EPILOG += "\n" + REPLAY_EXIT_HELP


CONVERT_EPILOG = """
examples:
  cdig convert web.cdig web.scap          # for sysdig -r, Stratoshark, Falco
  cdig convert web.cdig web.scap.gz       # the same, gzip-compressed (sysdig -z)
  cdig convert incident.scap incident.cdig   # a sysdig/Falco capture for DuckDB, cdig summary
  cdig convert web.cdig - --to scap | sysdig -r -
""".strip("\n")


def add_convert_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN", help="a cdig capture or a .scap file (plain or gzip)")
    p.add_argument("output", metavar="OUT", help="the file to write (mode 0600); '-' = stdout")
    p.add_argument("--to", choices=("scap", "cdig"),
                   help="output format (default: by OUT's extension, else the other one)")
    p.add_argument("-z", "--compress", action="store_true",
                   help="gzip the .scap output (implied by a .gz extension)")


EXPORTER_EPILOG = """\
examples:
  cdig exporter                                  # http://127.0.0.1:9464/metrics
  cdig exporter --no-latency                     # counts, errors, bytes only: cheapest
  cdig exporter --listen :9464 --web-config web.yml     # TLS and/or basic auth
  cdig exporter --max-containers 50 --syscalls read,write,openat,connect
  cdig exporter --latency-syscalls read,write,connect   # + per-syscall histograms for these
  cdig exporter --labels namespace,pod                  # series per pod, not per container
  curl -s 127.0.0.1:9464/metrics | grep '^cdig_syscalls_total'

--web-config takes the Prometheus exporter-toolkit format (tls_server_config:
cert_file/key_file, basic_auth_users with bcrypt hashes). A non-loopback
--listen needs TLS or basic auth there, or --insecure."""


def _positive(kind: type):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return v

    return parse


def add_exporter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", default="127.0.0.1:9464", metavar="HOST:PORT",
                   help="address to serve on (default 127.0.0.1:9464; ':9464' = all addresses)")
    p.add_argument("--web-config", metavar="FILE",
                   help="TLS and basic auth (Prometheus exporter-toolkit web config format)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback address without TLS or basic auth")
    p.add_argument("--no-latency", action="store_true",
                   help="no latency histogram: only the syscall exit is hooked (cheaper)")
    p.add_argument("--max-containers", type=_positive(int), default=100, metavar="N",
                   help="containers with their own series (default 100); later ones are "
                        "counted as container_id=\"other\"")
    p.add_argument("--max-syscalls", type=_positive(int), default=100, metavar="N",
                   help="syscall label values (default 100), the busiest first; the rest are "
                        "syscall=\"other\"")
    p.add_argument("--syscalls", metavar="LIST",
                   help="comma-separated allow-list of syscall names with their own series")
    p.add_argument("--latency-syscalls", metavar="LIST",
                   help="syscalls that get a latency histogram of their own "
                        "(cdig_syscall_duration_seconds), besides the per-class histograms "
                        "every container has; 'all' for every syscall label (large scrapes)")
    p.add_argument("--latency-buckets", choices=("coarse", "fine"), default="coarse",
                   help="histogram buckets: coarse (default: 1us, 66us, 4.2ms, 268ms) or "
                        "fine (every power of four ns from 1us to 17s)")
    p.add_argument("--labels", "--metrics-label-filter", metavar="LIST", dest="labels",
                   help="container labels the series carry (default all: container_id, "
                        "container_name, image, pod, namespace); containers that agree on "
                        "these share one series")
    p.add_argument("--grace", type=_positive(float), default=60.0, metavar="SECS",
                   help="how long a removed container's series stay (default 60)")
    p.add_argument("--interval", type=_positive(float), default=5.0, metavar="SECS",
                   help="how often the cgroup tree is walked and the maps read between "
                        "scrapes (default 5)")
    p.add_argument("--map-entries", type=_positive(int), default=16384, metavar="N",
                   help="capacity of the (cgroup, syscall) map (default 16384; errors get "
                        "half, per-cgroup process counts a quarter)")
    p.add_argument("--systemd-services", action="store_true",
                   help="export systemd services as containers instead of counting them "
                        "as the host")
    p.add_argument("--pairing", choices=("auto", "task", "hash"), default="auto",
                   help=argparse.SUPPRESS)  # latency pairing, for benchmarks
    p.add_argument("--dump-bpf", action="store_true",
                   help="print the BPF program as it would be compiled, and exit")


def _help_width() -> int:
    """The width argparse's HelpFormatter takes when given none: shutil's
    get_terminal_size() columns (COLUMNS, else sys.__stdout__'s terminal, else 80) less
    2, found as shutil documents it without importing shutil (its bz2 and lzma: ~1.3 ms
    of every start; argparse makes a formatter for every add_argument)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        out = sys.__stdout__
        try:
            size = os.get_terminal_size(out.fileno()).columns if out is not None else 0
        except (AttributeError, ValueError, OSError):  # closed, detached, not a terminal
            size = 0
        columns = size or 80
    return columns - 2


class _Help(argparse.HelpFormatter):
    """argparse's formatter, its width found by :func:`_help_width`."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _help_width() if width is None else width)


class _RawHelp(argparse.RawDescriptionHelpFormatter, _Help):
    """argparse's RawDescriptionHelpFormatter, its width found by :func:`_help_width`."""


class _Parser(argparse.ArgumentParser):
    """A subcommand's parser: its epilog may end with text made only when its help is
    printed (``epilog_tail``), so building the parser imports no module for it."""

    epilog_tail: Callable[[], str] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def format_help(self) -> str:
        if self.epilog_tail is not None:
            self.epilog = (self.epilog or "") + self.epilog_tail()
            self.epilog_tail = None
        return super().format_help()


def _export_columns() -> str:
    from .collector.export import columns_help

    return columns_help()


def add_trace_arguments(t: argparse.ArgumentParser) -> None:
    """cdig trace's arguments."""
    t.add_argument("filter", nargs="*", help="filter expression (sysdig syntax); words are joined")
    t.add_argument("-p", "--print", dest="format", metavar="FORMAT",
                   help="output format with %%field tokens; 'c' = container format, 'k' = k8s")
    t.add_argument("-j", "--json", action="store_true", help="one JSON object per line")
    t.add_argument("-n", "--numevents", type=int, metavar="N", help="stop after N events")
    t.add_argument("-M", "--duration", type=float, metavar="SECS", help="stop after SECS seconds")
    t.add_argument("-c", "--chisel", metavar="CHISEL",
                   help="run a chisel (sysdig's): its arguments are the first words after "
                        "it (or -c 'NAME ARGS'), the rest is the filter; -cl lists them")
    t.add_argument("--list-chisels", action="store_true",
                   help="list the chisels and exit (also -cl, as in sysdig)")
    t.add_argument("-i", "--chisel-info", metavar="CHISEL",
                   help="describe a chisel and its arguments, and exit")
    t.add_argument("--container", metavar="NAME|ID", action="append",
                   help="only this container (name, id or id prefix); repeatable "
                        "(container.name=NAME in the filter does the same)")
    t.add_argument("--failed", action="store_true", help="only failed syscalls")
    shown = t.add_mutually_exclusive_group()
    for short, long, what in (("-A", "--print-ascii", "as ASCII (printable bytes and newlines)"),
                              ("-x", "--print-hex", "in hex"),
                              ("-X", "--print-hex-ascii", "in hex and ASCII"),
                              ("-b", "--print-base64", "in base64")):
        shown.add_argument(short, long, dest="buffer_mode", action="store_const",
                           const=long[len("--print-"):].replace("-", ""),
                           help=f"print an I/O call's data (data=, evt.buffer) {what}, as "
                                f"sysdig's {short}")
    t.add_argument("-l", "--list", nargs="?", const="", choices=("", "v"), metavar="v",
                   help="list the fields and exit, in sysdig's layout; -lv: with their types")
    t.add_argument("--list-markdown", action="store_true",
                   help="list the fields as Markdown tables (sysdig's --list-markdown) and exit")
    t.add_argument("-L", "--list-events", action="store_true",
                   help="list the events (syscalls and process events) with their arguments, "
                        "as sysdig -L, and exit")
    t.add_argument("-t", "--timetype", choices=("h", "a", "r", "d", "D"), metavar="h|a|r|d|D",
                   help="the time column of the default (and -pc/-pk) format, as sysdig's: "
                        "h human-readable (default), a absolute (epoch s.ns), r relative to "
                        "the first event, d the call's latency, D since the previous line")
    t.add_argument("-S", "--summary", action="store_true",
                   help="print the event summary (events by direction and type, most "
                        "first) when the trace ends, as sysdig -S")
    t.add_argument("-e", "--events", type=int, metavar="N",
                   help="with -w: start a new file (FILE0, FILE1 …) once one holds N events "
                        "(at the end of the batch that reached N); with -W a ring of files")
    t.add_argument("-v", "--verbose", action="store_true",
                   help="at the end, sysdig -v's summary on stderr (events, drops, elapsed "
                        "time, events per second)")
    t.add_argument("-P", "--progress", action="store_true",
                   help="with -r: print on stderr how far into the capture files the "
                        "reading is, in percent, as sysdig -P")
    t.add_argument("--unbuffered", action="store_true",
                   help="flush every output line as it is written (for pipes into scripts)")
    t.add_argument("--buffer-mb", type=int, default=32, metavar="MB",
                   help="kernel ring buffer size (power of two, default 32; the ring for "
                        "records with strings gets twice that)")
    t.add_argument("--backlog-mb", type=int, default=512, metavar="MB",
                   help="records read from the kernel and not yet processed are held in "
                        "memory up to MB (default 512); past it the kernel rings fill and "
                        "the kernel counts what it drops")
    t.add_argument("-w", "--write", metavar="FILE",
                   help="write the events that pass the filter to a capture file (mode 0600); "
                        "nothing is printed unless -p or -j is given too. FILE.scap (or "
                        "--format scap) writes sysdig's .scap (.scap.gz gzipped); '-' streams "
                        ".scap to stdout, flushed per batch")
    t.add_argument("--format", dest="write_format", choices=("cdig", "scap"),
                   help="with -w: the capture's format (default: by FILE's extension, cdig)")
    t.add_argument("--compress", choices=CODECS, default=CODECS[0],
                   help="with -w: the .cdig capture's Arrow compression: lz4 (default; less "
                        "CPU to write and to read back) or zstd (files ~2.7x smaller)")
    t.add_argument("-r", "--read", metavar="FILE", action="append",
                   help="read a capture instead of tracing live (no root needed); repeat it "
                        "or use a glob for a rotation set")
    t.add_argument("-C", "--file-size", type=float, metavar="MB",
                   help="with -w: start a new file (FILE0, FILE1 …) when one passes MB "
                        "million bytes")
    t.add_argument("-G", "--seconds", type=float, metavar="SECS",
                   help="with -w: start a new file every SECS seconds (FILE may hold "
                        "strftime %%-codes, else a timestamp is appended)")
    t.add_argument("-W", "--files", type=int, metavar="N",
                   help="with -C or -G: keep only the N newest files")
    t.add_argument("-s", "--snaplen", type=int, default=80, metavar="BYTES",
                   help="capture the first BYTES of each I/O buffer (read, write, send, "
                        "recv …; sysdig's -s; default 80, 0 none, at most 768: 256 for "
                        "sendto/recvfrom)")
    t.add_argument("--enter", action="store_true",
                   help="show syscall enter events ('>') too, as sysdig does: a call that "
                        "blocks is seen while it blocks (on by itself when the filter "
                        "asks for evt.dir='>'); each syscall then costs two records")
    t.add_argument("--string-len", type=int, metavar="BYTES",
                   help="with -w: keep at most BYTES of each captured path and argv "
                        "(socket addresses are kept whole)")


def add_top_arguments(tp: argparse.ArgumentParser) -> None:
    """cdig top's arguments."""
    tp.add_argument("filter", nargs="*", help="filter expression (sysdig syntax)")
    tp.add_argument("-d", "--delay", type=float, default=1000, metavar="MS",
                    help="refresh interval in milliseconds, as csysdig's (default 1000)")
    tp.add_argument("-r", "--read", metavar="FILE", action="append",
                    help="replay a capture instead of tracing live (no root needed)")
    tp.add_argument("--speed", type=float, default=1.0, metavar="X",
                    help="replay: capture seconds per second (default 1; 0 = as fast as "
                         "possible)")
    tp.add_argument("--paused", action="store_true", help="replay: start paused (n steps)")
    tp.add_argument("-v", "--view", default="containers", metavar="VIEW",
                    help="first view: procs containers syscalls errors files conns execs "
                         "events security tree spectro threads dirs ports slowio (default "
                         "containers)")
    tp.add_argument("--max-rows", type=int, default=500, metavar="N",
                    help="rows shown per view, after sorting (default 500)")
    tp.add_argument("--buffer-mb", type=int, default=8, metavar="MB",
                    help="kernel ring buffer size (power of two, default 8: the counts "
                         "come from the kernel's counters, the stream carries only what "
                         "needs events)")
    tp.add_argument("--full-stream", action="store_true",
                    help="live: send every syscall to the event stream (by default only "
                         "file/socket I/O, opens, connects and execs, while the kernel's "
                         "counters count: dig then shows only those, unless in the Live "
                         "events view)")


def add_summary_arguments(sm: argparse.ArgumentParser) -> None:
    """cdig summary's arguments."""
    sm.add_argument("filter", nargs="*", help="filter expression (sysdig syntax)")
    sm.add_argument("-r", "--read", metavar="FILE", action="append", required=True,
                    help="capture file (repeatable, globs allowed)")
    sm.add_argument("--by", default="proc",
                    choices=("proc", "container", "syscall", "file", "conn", "errors", "user"),
                    help="what to group by (default proc)")
    sm.add_argument("--top", type=int, default=20, metavar="N",
                    help="show the N first rows (default 20; 0 = all)")
    sm.add_argument("--sort", metavar="COLUMN", help="sort by this column instead")
    sm.add_argument("-j", "--json", action="store_true", help="JSON output")
    sm.add_argument("-P", "--progress", action="store_true",
                    help="print on stderr how far into the capture files the reading is, "
                         "in percent, as sysdig -P (and cdig trace -r -P)")


def add_export_arguments(ex: argparse.ArgumentParser) -> None:
    """cdig export's arguments."""
    ex.add_argument("filter", nargs="*", help="filter expression (sysdig syntax)")
    ex.add_argument("-r", "--read", metavar="FILE", action="append",
                    help="capture file (repeatable, globs allowed)")
    ex.add_argument("--format", choices=("parquet", "jsonl", "csv"), default="parquet",
                    help="output format (default parquet)")
    ex.add_argument("-o", "--output", metavar="OUT",
                    help="output file ('-' for stdout with jsonl/csv); created mode 0600")
    ex.add_argument("--fields", metavar="F1,F2",
                    help="columns to export (filter field names; default: the list below)")
    ex.add_argument("--list-columns", action="store_true",
                    help="print the columns with their types and meanings, and exit")


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """cdig's parser. ``commands``: the subcommands whose arguments are added (None:
    all); the others are there (cdig --help, the choices of a bad one) with none.
    main() passes the words of its command line, one of which is the subcommand
    argparse picks: ~2 ms of every start go to argparse's add_argument."""

    def full(name: str) -> bool:
        return commands is None or name in commands

    p = argparse.ArgumentParser(
        prog="cdig", description="System-level syscall tracing and monitoring for container hosts.",
        formatter_class=_RawHelp)
    p.add_argument("--version", action="version", version=f"cdig {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # the subcommands with arguments of their own: (name, help, epilog, their arguments,
    # what runs them), in cdig --help's order
    for name, help_, epilog, add, func in (
            ("trace", "print a live, filtered event stream (like sysdig)", TRACE_EPILOG,
             add_trace_arguments, cmd_trace),
            ("top", "interactive TUI: containers, processes, syscalls … (like csysdig)",
             TOP_EPILOG, add_top_arguments, Lazy(".top_cmd", "run_top")),
            ("summary", "top-N tables of a capture (sysdig chisels)", SUMMARY_EPILOG,
             add_summary_arguments, Lazy(".summary_cmd", "run_summary")),
            ("export", "a capture as Parquet, JSON lines or CSV", EXPORT_EPILOG + "\n\n",
             add_export_arguments, Lazy(".export_cmd", "run_export")),
            ("convert", "convert between cdig captures and sysdig/Falco .scap",
             CONVERT_EPILOG, add_convert_arguments, Lazy(".convert_cmd", "run_convert")),
            ("exporter", "serve per-container metrics to Prometheus", EXPORTER_EPILOG,
             add_exporter_arguments, Lazy(".exporter_cmd", "run_exporter"))):
        sp = sub.add_parser(name, help=help_, epilog=epilog, formatter_class=_RawHelp)
        if name == "export":  # the columns' table: imports the fields' modules
            sp.epilog_tail = _export_columns
        if full(name):
            add(sp)
        sp.set_defaults(func=func)

    d = sub.add_parser("doctor", help="check that this host can run cdig, and say how to fix it")
    d.set_defaults(func=cmd_doctor)

    pr = sub.add_parser("probe", help="inspect the BPF program")
    if full("probe"):
        pr.add_argument("--dump-bpf", action="store_true", help="print the final BPF program")
        pr.add_argument("filter", nargs="*", help="filter whose kernel pushdown to apply")
    pr.set_defaults(func=cmd_probe)

    c = sub.add_parser("containers", help="list the containers on this host")
    if full("containers"):
        c.add_argument("-j", "--json", action="store_true", help="JSON output")
    c.set_defaults(func=Lazy(".containers_cmd", "run_containers"))
    return p


class Lazy:
    """A subcommand's ``run(args) -> int``, imported when that subcommand runs (pip's
    command registry does the same): ``cdig --help``, a usage error or one subcommand
    loads no other subcommand's modules. tests/unit/test_cli.py resolves every one."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module  # relative to this package
        self.name = name

    def resolve(self) -> Callable[[argparse.Namespace], int]:
        with loading():
            module = importlib.import_module(self.module, __package__)
        func: Callable[[argparse.Namespace], int] = getattr(module, self.name)
        return func

    def __call__(self, args: argparse.Namespace) -> int:
        return self.resolve()(args)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the process's own command line: it exits when main returns
        # the interpreter's exit passes the collector over every object left (numpy's,
        # cdig's modules, the state: ~15 ms of a trace -r of a small capture) to find
        # garbage the exit frees anyway; frozen (after the other exit handlers: run in
        # reverse order of registration), none is looked at. What is left in reference
        # cycles then is not finalized, as after os._exit: the commands close their
        # files and sources themselves; stdout and stderr are still flushed.
        atexit.register(gc.freeze)
    words = sys.argv[1:] if argv is None else argv
    with loading():
        parser = build_parser(set(words))
        args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (| head): not an error; keep Python quiet at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:
        known = user_message(e)  # the one mapping of errors to lines (cdig/errors.py)
        if known is not None:
            print(known[0], file=sys.stderr)
            return known[1]
        # a bug: one line for the user, the traceback on request
        if os.environ.get("CDIG_DEBUG"):
            raise
        print(f"cdig: internal error: {type(e).__name__}: {e} "
              "(set CDIG_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR


def cmd_trace(args: argparse.Namespace) -> int:
    with loading():
        from .trace import run_trace
        from .trace_flags import TraceFlags

    flags = TraceFlags(args)  # -L, -S, -v, -P, --unbuffered
    if flags.done is not None:
        sys.stdout.write(flags.done + "\n")
        return EXIT_OK
    return run_trace(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    return run_doctor()


def cmd_probe(args: argparse.Namespace) -> int:
    from .trace_live import dump_bpf

    if not args.dump_bpf:
        raise CliError("nothing to do; try --dump-bpf", EXIT_USAGE)
    sys.stdout.write(dump_bpf(" ".join(args.filter)))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""cdig's command line: one entry point, one subcommand per job.

Every failure the user can cause (a bad filter, no root, no BPF, a vanished
container) ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user-facing failure: printed as ``cdig: <message>``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _fmt(text: str) -> str:
    return text.strip("\n")


TRACE_EPILOG = _fmt("""
examples:
  cdig trace                                   # every syscall of every process
  cdig trace proc.name=nginx                   # one program
  cdig trace -pc container.name=web1           # container-aware output
  cdig trace -c web1 evt.type=openat           # opens in container web1
  cdig trace "evt.failed=true and evt.res=ENOENT"   # files that were not found
  cdig trace -p "%proc.name %fd.name %evt.latency" evt.type=read
  cdig trace -j -n 100 fd.sport=8080           # 100 events as JSON lines
  cdig trace -M 10 -x                          # failed syscalls for 10 seconds
  cdig trace -l                                # list the filter/format fields
""")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cdig", description="System-level syscall tracing and monitoring for container hosts.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"cdig {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("trace", help="print a live, filtered event stream (like sysdig)",
                       epilog=TRACE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("filter", nargs="*", help="filter expression (sysdig syntax); words are joined")
    t.add_argument("-p", "--print", dest="format", metavar="FORMAT",
                   help="output format with %%field tokens; 'c' = container format, 'k' = k8s")
    t.add_argument("-j", "--json", action="store_true", help="one JSON object per line")
    t.add_argument("-n", "--numevents", type=int, metavar="N", help="stop after N events")
    t.add_argument("-M", "--duration", type=float, metavar="SECS", help="stop after SECS seconds")
    t.add_argument("-c", "--container", metavar="NAME|ID", action="append",
                   help="only this container (name, id or id prefix); repeatable")
    t.add_argument("-x", "--failed", action="store_true", help="only failed syscalls")
    t.add_argument("-l", "--list", action="store_true", help="list the fields and exit")
    t.add_argument("--buffer-mb", type=int, default=32, metavar="MB",
                   help="kernel ring buffer size (power of two, default 32; the ring for "
                        "records with strings gets twice that)")
    t.set_defaults(func=cmd_trace)

    d = sub.add_parser("doctor", help="check that this host can run cdig, and say how to fix it")
    d.set_defaults(func=cmd_doctor)

    pr = sub.add_parser("probe", help="inspect the BPF program")
    pr.add_argument("--dump-bpf", action="store_true", help="print the final BPF program")
    pr.add_argument("filter", nargs="*", help="filter whose kernel pushdown to apply")
    pr.set_defaults(func=cmd_probe)

    c = sub.add_parser("containers", help="list the containers on this host")
    c.add_argument("-j", "--json", action="store_true", help="JSON output")
    c.set_defaults(func=cmd_containers)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as e:
        print(f"cdig: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (| head): not an error; keep Python quiet at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:  # a bug: one line for the user, the traceback on request
        if os.environ.get("CDIG_DEBUG"):
            raise
        print(f"cdig: internal error: {type(e).__name__}: {e} "
              "(set CDIG_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR


def cmd_trace(args: argparse.Namespace) -> int:
    from .trace import run_trace

    return run_trace(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    return run_doctor()


def cmd_probe(args: argparse.Namespace) -> int:
    from .trace import dump_bpf

    if not args.dump_bpf:
        raise CliError("nothing to do; try --dump-bpf", EXIT_USAGE)
    sys.stdout.write(dump_bpf(" ".join(args.filter)))
    return EXIT_OK


def cmd_containers(args: argparse.Namespace) -> int:
    from .containers_cmd import run_containers

    return run_containers(args)


if __name__ == "__main__":
    sys.exit(main())

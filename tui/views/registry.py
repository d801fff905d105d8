"""The views of ``cdig top``, one ``View`` record each: columns, natural sort,
builder, where Enter leads, and the F7 legend (what each column means, its unit).

Adding a view: write its builder (``Ctx`` -> rows, totals) in the module of its
kind, add its ``View`` here; the screen's keys, the picker, the help, ``--view``
and the legend test follow from this table.
"""

from __future__ import annotations

from . import containers, fileio, network, processes, syscalls
from .base import Col, View
from .syscalls import SPECTRO_LABELS

# the legend's meanings common to several views
COMMON = {
    "cpu": "CPU used, % of ONE core (a process busy on 2 cores reads 200); from "
           "/proc/PID/stat, a container's from its cgroup's usage counter",
    "sc": "syscalls completed per second over the last interval (kernel counters: exact)",
    "err": "failed syscalls (returned -1..-4095) per second",
    "file": "bytes per second read + written by file I/O syscalls (B/K/M/G: 1024-based)",
    "net": "bytes per second sent + received on sockets",
    "events": "syscalls completed since cdig top started (exact, every digit)",
    "container": "the container (name, or short id); host: not in a container",
    "pid": "process id (thread group id), exact",
    "name": "the process's name: its comm (main thread), or its container's name",
    "user": "user name of the process's uid (the host's database)",
    "cmd": "the command line: argv, argv[0] included",
    "rate": "per second over the last interval",
    "count": "how many since the start (exact)",
    "errors": "how many failed since the start",
    "syscall": "the syscall (or the syscalls, with their counts)",
}

# what the processes and containers views show of each row's syscalls (COMMON's words)
ACTIVITY = (Col("sc", "SC/S", "rate"), Col("err", "ERR/S", "rate"),
            Col("file", "FILE B/S", "brate"), Col("net", "NET B/S", "brate"))
# the I/O columns the files and directories views share, and the connections and
# server ports views (each legend says whose bytes the rates are)
FILE_IO = (Col("in_rate", "IN B/S", "brate"), Col("out_rate", "OUT B/S", "brate"),
           Col("read", "READ", "bytes"), Col("written", "WRITTEN", "bytes"), Col("opens", "OPENS"),
           Col("ops", "OPS"))
FILE_IO_LEGEND = {"read": "bytes read since the start",
                  "written": "bytes written since the start"}
NET_IO = (Col("in_rate", "IN B/S", "brate"), Col("out_rate", "OUT B/S", "brate"),
          Col("in", "IN", "bytes"), Col("out", "OUT", "bytes"))
NET_IO_LEGEND = {"proto": "tcp, udp…", "in": "bytes received since the start",
                 "out": "bytes sent since the start"}

VIEWS: dict[str, View] = {v.name: v for v in (
    View(
        "procs", "Processes", "1",
        columns=(Col("pid", "PID", "id"), Col("name", "NAME", "text", 16),
                 Col("cpu", "CPU%", "pct"), *ACTIVITY,
                 Col("virt", "VIRT", "bytes"), Col("res", "RES", "bytes"),
                 Col("container", "CONTAINER", "text", 16), Col("events", "SYSCALLS", "exact"),
                 Col("state", "ST", "text"),
                 Col("user", "USER", "text", 10), Col("cmd", "COMMAND", "text", 60)),
        sort=("sc", True),
        build=processes.procs_rows,
        legend={**COMMON, "virt": "virtual memory size (bytes, /proc/PID/statm)",
                "res": "resident memory (bytes in RAM)",
                "state": "exit: the process exited during the last interval "
                         "(listed once more, then removed)"},
        drills=("syscalls",),
    ),
    View(
        "containers", "Containers", "2",
        columns=(Col("name", "CONTAINER", "text", 20), Col("cpu", "CPU%", "pct"), *ACTIVITY,
                 Col("pids", "PROCS"), Col("mem", "MEMORY", "bytes"),
                 Col("spark", "ACTIVITY 60s", "spark"), Col("events", "SYSCALLS", "exact"),
                 Col("stream", "STREAM%", "pct"),
                 Col("image", "IMAGE", "text", 30), Col("pod", "POD", "text", 24),
                 Col("runtime", "RUNTIME", "text"), Col("id", "ID", "text", 12)),
        sort=("sc", True),
        build=containers.containers_rows,
        legend={**COMMON, "pids": "live processes in the container",
                "mem": "memory used by the container's cgroup (bytes)",
                "spark": "events per second over the last 60 s (the event stream)",
                "stream": "% of the container's syscalls in the last interval that "
                          "reached the event stream (files, connections, dig and echo "
                          "see only those); below 100: the stream dropped or was "
                          "narrowed in the kernel",
                "image": "the container's image", "pod": "Kubernetes namespace/pod",
                "runtime": "podman, docker, containerd, cri-o, lxc, systemd, runc…",
                "id": "the container id (12 characters)"},
        drills=("procs",),
    ),
    View(
        "syscalls", "Syscalls", "3",
        columns=(Col("syscall", "SYSCALL", "text", 18), Col("count", "COUNT", "exact"),
                 Col("rate", "RATE/S", "rate"), Col("errors", "ERRORS", "exact"),
                 Col("avg", "AVG", "ns"), Col("p99", "P99", "ns"), Col("time", "TIME", "ns")),
        sort=("count", True),
        build=syscalls.syscalls_rows,
        legend={**COMMON, "avg": "mean latency (enter to exit), ns/us/ms/s",
                "p99": "99th percentile latency, the upper bound of its histogram "
                       "bucket (kernel: base-4 buckets, so up to 4x high)",
                "time": "total time spent in the syscall since the start"},
        drills=("events", "procs"),
    ),
    View(
        "errors", "Errors", "4",
        columns=(Col("count", "COUNT", "exact"), Col("rate", "RATE/S", "rate"),
                 Col("errno", "ERRNO", "text", 12), Col("syscall", "SYSCALL", "text", 24),
                 Col("pid", "PID", "id"), Col("name", "PROCESS", "text", 16),
                 Col("container", "CONTAINER", "text", 24)),
        sort=("count", True),
        build=syscalls.errors_rows,
        legend={**COMMON, "errno": "the error (ENOENT: no such file…); Enter: its "
                                    "syscalls, then the processes getting it",
                "name": "the process", "container": "the containers where it happened"},
        drills=("errors", "events"),
    ),
    View(
        "files", "Files", "5",
        columns=(Col("path", "PATH", "text", 48), *FILE_IO),
        sort=("ops", True),
        build=fileio.files_rows,
        legend={**FILE_IO_LEGEND, "path": "the file", "in_rate": "bytes read per second",
                "out_rate": "bytes written per second", "opens": "successful opens",
                "ops": "read/write syscalls on it (the event stream)"},
        drills=("events",),
    ),
    View(
        "conns", "Connections", "6",
        columns=(Col("name", "CONNECTION", "text", 44), Col("proto", "L4", "text"), *NET_IO,
                 Col("proc", "PROCESS", "text", 16), Col("pid", "PID", "id"),
                 Col("container", "CONTAINER", "text", 16)),
        sort=("in", True),
        build=network.conns_rows,
        legend={**NET_IO_LEGEND, "name": "local → remote address:port",
                "in_rate": "bytes received per second", "out_rate": "bytes sent per second",
                "proc": "the process", "pid": "its pid", "container": "its container"},
        drills=("events",),
    ),
    View(
        "execs", "Execs", "7",
        columns=(Col("time", "TIME", "text"), Col("pid", "PID", "id"),
                 Col("user", "USER", "text", 10), Col("container", "CONTAINER", "text", 16),
                 Col("cmd", "COMMAND", "text", 80)),
        sort=("time", True),
        build=processes.execs_rows,
        legend={"time": "when (HH:MM:SS.mmm)", "pid": "the new program's pid",
                "user": "its user", "container": "its container",
                "cmd": "the command line run (argv)"},
        drills=("syscalls",),
        sort_by={"time": "ts"},
    ),
    View(
        "events", "Live events", "8",
        columns=(),
        sort=("", False),
        build=None,
        legend={},
        full_stream=True,
        about="one line per event, as `cdig trace -pc` prints it",
    ),
    View(
        "security", "Security", "9",
        columns=(Col("name", "CONTAINER", "text", 20), Col("net", "NET", "text"),
                 Col("pid", "PID", "text"), Col("ipc", "IPC", "text"),
                 Col("uts", "UTS", "text"), Col("user", "USER", "text"),
                 Col("root", "ROOT", "text"), Col("cpu_lim", "CPU LIM", "text"),
                 Col("mem_lim", "MEM LIM", "text"), Col("risks", "RISKS", "text", 60),
                 Col("runtime", "RUNTIME", "text")),
        sort=("risks", True),
        build=containers.security_rows,
        legend={"name": "the container",
                "net": "host: shares the host's network namespace; own: its own",
                "pid": "the pid namespace, host or own", "ipc": "the ipc namespace",
                "uts": "the uts namespace (hostname)", "user": "the user namespace",
                "root": "a process runs as uid 0 (host uid)",
                "cpu_lim": "a CPU limit (cgroup cpu.max) is set",
                "mem_lim": "a memory limit (memory.max) is set",
                "risks": "what of the above is risky", "runtime": "the runtime"},
        drills=("procs",),
        sort_by={"risks": "nrisks"},
        replay_note="namespaces and limits are read from this host: not available in a replay",
    ),
    View(
        "tree", "Process tree", "t",
        columns=(Col("pid", "PID", "id"), Col("ppid", "PPID", "id"),
                 Col("name", "NAME", "text", 40), Col("sc", "SC/S", "rate"),
                 Col("err", "ERR/S", "rate"), Col("container", "CONTAINER", "text", 16),
                 Col("cmd", "COMMAND", "text", 60)),
        sort=("order", False),
        build=processes.tree_rows,
        legend={**COMMON, "ppid": "the parent's pid",
                "name": "the process's name, indented under its parent"},
        drills=("syscalls",),
    ),
    View(
        "spectro", "Latency spectrogram", "f12",
        columns=(Col("time", "TIME", "text"), Col("calls", "CALLS", "exact"),
                 *[Col(f"b{i}", lab, "shade") for i, lab in enumerate(SPECTRO_LABELS)]),
        sort=("ts", True),
        build=syscalls.spectro_rows,
        legend={"time": "the end of the refresh interval", "calls": "syscalls in it",
                **{f"b{i}": f"calls taking up to {lab}s (base-4 buckets of the kernel's "
                            "histogram); the darker, the more (log scale)"
                   for i, lab in enumerate(SPECTRO_LABELS)}},
    ),
    View(
        "threads", "Threads", "H",
        columns=(Col("tid", "TID", "id"), Col("pid", "PID", "id"), Col("name", "NAME", "text", 16),
                 Col("sc", "EV/S", "rate"), Col("err", "ERR/S", "rate"),
                 Col("file", "FILE B/S", "brate"), Col("net", "NET B/S", "brate"),
                 Col("events", "EVENTS", "exact"), Col("state", "ST", "text"),
                 Col("container", "CONTAINER", "text", 16), Col("cmd", "COMMAND", "text", 60)),
        sort=("sc", True),
        build=processes.threads_rows,
        legend={**COMMON, "tid": "thread id (the kernel's pid of the thread), exact",
                "pid": "its process (thread group id)",
                "name": "the thread's comm (threads can name themselves)",
                "sc": "events per second of the thread in the event stream (the kernel's "
                      "exact counters are per process; the stream can drop or be narrowed)",
                "err": "failed syscalls per second (the event stream)",
                "file": "bytes per second read + written on files (the event stream)",
                "net": "bytes per second sent + received on sockets (the event stream)",
                "events": "the thread's events in the stream since the start",
                "state": "exit: the thread exited during the last interval",
                "cmd": "its process's command line"},
        drills=("syscalls",),
        full_stream=True,
    ),
    View(
        "dirs", "Directories", "D",
        columns=(Col("dir", "DIRECTORY", "text", 48), *FILE_IO, Col("files", "FILES")),
        sort=("ops", True),
        build=fileio.dirs_rows,
        legend={**FILE_IO_LEGEND,
                "dir": "the directory; the files directly in it are summed (Enter: them)",
                "in_rate": "bytes read per second from its files",
                "out_rate": "bytes written per second to its files",
                "opens": "successful opens of its files", "ops": "read/write syscalls on them",
                "files": "files of it seen in the event stream"},
        drills=("files",),
    ),
    View(
        "ports", "Server ports", "P",
        columns=(Col("port", "PORT", "id"), Col("proto", "L4", "text"), Col("conns", "CONNS"),
                 *NET_IO, Col("proc", "PROCESS", "text", 24),
                 Col("container", "CONTAINER", "text", 24)),
        sort=("in", True),
        build=network.ports_rows,
        legend={**NET_IO_LEGEND,
                "port": "the server end's port (of a connection accepted here, or made "
                        "from here); Enter: its connections",
                "conns": "connections seen to that port",
                "in_rate": "bytes received per second on them",
                "out_rate": "bytes sent per second on them",
                "proc": "the processes with the most of those connections",
                "container": "their containers"},
        drills=("conns",),
    ),
    View(
        "slowio", "Slow file I/O", "I",
        columns=(Col("time", "TIME", "text"), Col("latency", "LATENCY", "ns"),
                 Col("syscall", "SYSCALL", "text", 10), Col("bytes", "BYTES", "bytes"),
                 Col("pid", "PID", "id"), Col("name", "PROCESS", "text", 16),
                 Col("container", "CONTAINER", "text", 16), Col("path", "FILE", "text", 60)),
        sort=("time", True),
        build=fileio.slowio_rows,
        legend={"time": "when the call ended (HH:MM:SS.micro)",
                "latency": "how long the call took (enter to exit): 1 ms or more",
                "syscall": "read, write, pread64…",
                "bytes": "bytes it read or wrote", "pid": "the process",
                "name": "the thread's comm", "container": "its container",
                "path": "the file; the latest 2,000 such calls of the event stream"},
        drills=("events",),
        sort_by={"time": "ts"},
    ),
)}

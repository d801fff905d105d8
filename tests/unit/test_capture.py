"""Capture files: round trip, damage, rotation, permissions (synthetic records, no root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records import T, ext, record, sockaddr_in

from cdig.cli import main
from cdig.collector.capture import (
    MB,
    CaptureError,
    CaptureFile,
    CaptureRecorder,
    CaptureWriter,
    ReplaySource,
    Rotation,
    host_info,
    rows_to_batch,
)
from cdig.collector.capture.format import _Rows, _Snaplen
from cdig.collector.decode import Decoder, RawBatch
from cdig.collector.events import HOST, Container
from cdig.collector.filter import compile_filter
from cdig.collector.filter.batch import BatchFilter
from cdig.collector.formatter import Formatter, JsonFormatter
from cdig.collector.procfs import ProcFS, ProcInfo
from cdig.collector.render import BatchRenderer
from cdig.collector.session import EventSink, LineSink, Session
from cdig.collector.state import State
from cdig.probes.syscalls import layout

OFFSET = 1_700_000_000_000_000_000
WEB = Container(id="a" * 64, name="aaaaaaaaaaaa", runtime="podman")
FMT = ("*%evt.num %evt.rawtime %evt.cpu %container.name (%container.id) %proc.name "
       "%proc.cmdline %proc.ppid (%thread.tid) %evt.dir %evt.type %evt.info %fd.name %fd.type")


class FakeProcFS(ProcFS):
    """What a live /proc would answer, from dicts."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")
        self.procs = {50: ProcInfo(50, 1, "server", "/usr/bin/server", ["server", "-p", "80"], 0),
                      1: ProcInfo(1, 0, "init", "/sbin/init", ["/sbin/init"], 0)}
        self.fds = {(50, 1): "pipe:[777]", (60, 0): "/dev/null", (50, 9): "/srv/data"}
        self.dirs = {"/srv/data"}

    def list_pids(self):
        return sorted(self.procs)

    def read_proc(self, pid):
        return self.procs.get(pid)

    def fd_target(self, pid, fd):
        return self.fds.get((pid, fd))

    def cwd(self, pid):
        return "/srv" if pid == 50 else None

    def is_dir(self, path):
        return path in self.dirs

    def socket_tuple(self, pid, inode):
        return None


def containers_live(meta_late: bool = True):
    """container_of(cg, pid) like the live resolver: cgroup 7 is WEB, whose name
    arrives (as the runtime's metadata does) after the first lookup."""
    web = Container(id=WEB.id, name=WEB.name, runtime="podman")

    def lookup(cg, pid):
        return web if cg == 7 or (cg == 0 and pid == 50) else HOST

    return web, lookup


def batches(n_batches: int = 4, per: int = 30, seed: int = 1) -> list[RawBatch]:
    """Mixed records: writes to fds known from /proc, opens with paths (ext), connects,
    an execve + procexec, forks, failures; the two rings interleave in time."""
    rng = np.random.default_rng(seed)
    out = []
    ts = 1000
    for b in range(n_batches):
        small, big = [], []
        for i in range(per):
            ts += int(rng.integers(1, 50))
            pid = [50, 60, 70][i % 3]
            cg = 7 if pid == 50 else 3
            r = int(rng.integers(0, 10))
            comm = b"server" if pid == 50 else b"worker"
            if r < 4:
                small.append(record("write", ret=int(rng.integers(-9, 100)), args=(1, 0, 64),
                                    ts=ts, pid=pid, cgroup=cg, comm=comm, latency=r * 100))
            elif r == 4:
                big.append(ext("openat", str1=b"/srv/data/f%d\0" % i, ret=5,
                               args=(2**64 - 100, 0, 0o101, 0o644), ts=ts, pid=pid, cgroup=cg,
                               comm=comm))
            elif r == 5:
                small.append(record("close", ret=0, args=(5,), ts=ts, pid=pid, cgroup=cg,
                                    comm=comm))
            elif r == 6:
                big.append(ext("connect", str2=sockaddr_in(f"10.0.0.{i % 5}", 80),
                               ret=-111, args=(4, 0, 16), ts=ts, pid=pid, cgroup=cg, comm=comm))
            elif r == 7:
                small.append(record("read", ret=12, args=(9, 0, 100), ts=ts, pid=pid, cgroup=cg,
                                    comm=comm))
            elif r == 8:
                big.append(ext("execve", kind=layout.KIND_SYSCALL_ENTER,
                               str1=b"/bin/tool\0", str2=b"/bin/tool\0-x\0", argc=2, ts=ts,
                               pid=pid, cgroup=cg, comm=comm))
                big.append(ext(None, kind=layout.KIND_EXEC, str1=b"/bin/tool\0", ts=ts + 1,
                               pid=pid, cgroup=cg, comm=b"tool", args=(pid,)))
            else:
                small.append(record(None, kind=layout.KIND_FORK, args=(900 + b * 100 + i, pid),
                                    ts=ts, pid=pid, cgroup=cg, comm=comm))
        # the rings are drained separately: the small ring's records come first,
        # with timestamps interleaved with the ext ring's
        out.append(RawBatch(np.concatenate(small) if small else np.zeros(0, layout.RECORD),
                            np.concatenate(big) if big else np.zeros(0, layout.EXT_RECORD)))
    return out


class ListSource:
    def __init__(self, bs, drops=0):
        self.bs = bs
        self._drops = drops

    def batches(self):
        yield from self.bs

    def stop(self):
        pass

    def drops(self):
        return self._drops


def live_capture(path, bs, filter_text="", rotation=None, clock=None, flush_rows=20,
                 snaplen=None, name_late=True, fmt=FMT, compression=None):
    """Run the live pipeline over ``bs`` with a recorder; the lines it printed."""
    web, lookup = containers_live()
    writer = CaptureWriter(str(path), host_info(T, OFFSET), rotation,
                           **({"clock": clock} if clock else {}),
                           **({"compression": compression} if compression else {}), sync=False)
    rec = CaptureRecorder(writer, T, live_container_of=lookup, live_procfs=FakeProcFS(),
                          snaplen=snaplen, flush_rows=flush_rows,
                          **({"monotonic": clock} if clock else {}))
    state = State(container_of=rec.container_of, procfs=rec.procfs)
    state.seed()
    dec = Decoder(T, OFFSET)
    rec.start(state, dec, ListSource(bs, drops=3))
    flt = compile_filter(filter_text)

    def land():
        if web.name != "web":  # the runtime's answer lands
            web.name, web.image, web.labels = "web", "nginx:1", {"app": "web"}

    if not name_late:
        land()

    out = _Lines()
    # the runtime's answer lands between two sinks of a batch (the resolver's
    # thread can answer at any moment): both must still agree on the names
    session = Session(ListSource(bs, drops=3), dec, state, _flt(flt, T),
                      [rec, lambda b, m: land(), LineSink(BatchRenderer.text(fmt, T), out)],
                      on_batch=land)
    session.run()
    rec.close()
    return out.lines(), rec


class _Lines:
    """A text stream that keeps what is written, as lines."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> None:
        self.parts.append(s)

    def flush(self) -> None:
        pass

    def lines(self) -> list[str]:
        text = "".join(self.parts)
        return text.split("\n")[:-1] if text else []


def _flt(flt, syscalls):
    return BatchFilter(flt, syscalls) if flt.expr is not None else None


def replay(paths, filter_text="", fmt=FMT, losses=None):
    src = ReplaySource([str(p) for p in paths],
                       on_loss=(losses.append if losses is not None else None))
    state = State(container_of=src.container_of, procfs=src.procfs)
    src.attach(state)
    dec = Decoder(src.syscalls, src.mono_to_wall_ns)
    flt = compile_filter(filter_text)
    f = Formatter(fmt)
    lines: list[str] = []
    Session(src, dec, state, _flt(flt, dec.table),
            [EventSink(lambda e: lines.append(f.format(e)))]).run()
    src.close()
    return lines, src


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("flt", ["", "evt.type=write", "proc.name=server and fd.name exists",
                                 "container.name=web", "evt.failed=true",
                                 "fd.name=/srv/data or evt.type=procexec"])
def test_round_trip_same_lines(tmp_path, flt):
    lines, rec = live_capture(tmp_path / "c.cdig", batches(), flt)
    assert lines, "the filter should select something"
    back, src = replay([tmp_path / "c.cdig"], flt)
    assert back == lines
    assert src.drops() == 3
    if flt:
        assert rec.context > 0  # state records kept, not shown


def test_round_trip_json_and_names_from_before_the_capture(tmp_path):
    """proc.cmdline and fd names come from /proc answers the live trace got (journal
    and snapshot): a process seeded at start, a pipe only /proc could name."""
    lines, _ = live_capture(tmp_path / "c.cdig", batches(), "proc.pid=50")
    back, _ = replay([tmp_path / "c.cdig"], "proc.pid=50")
    assert back == lines
    assert any("server -p 80" in line and "pipe:[777]" in line for line in back)
    assert any(" web (aaaaaaaaaaaa)" in line for line in back)  # the name, once it came
    j = JsonFormatter()
    src = ReplaySource([str(tmp_path / "c.cdig")])
    st = State(container_of=src.container_of, procfs=src.procfs)
    src.attach(st)
    evs = []
    Session(src, Decoder(src.syscalls, src.mono_to_wall_ns), st, None,
            [EventSink(lambda e: evs.append(json.loads(j.format(e))))]).run()
    assert {e["proc.pid"] for e in evs} == {50}


def test_replay_filter_subset_and_numbers(tmp_path):
    """Reading with a narrower filter gives the matching subset of the lines, with
    the live event numbers; the vectorised prefilter changes nothing."""
    lines, _ = live_capture(tmp_path / "c.cdig", batches(6, 50))
    sub, _ = replay([tmp_path / "c.cdig"], "evt.type=write and evt.res=SUCCESS")
    assert sub and set(sub) <= set(lines)
    assert [ln for ln in lines if " < write " in ln and "res=-" not in ln] == sub


def test_snaplen_cuts_paths_not_addresses(tmp_path):
    bs = [RawBatch(np.zeros(0, layout.RECORD), np.concatenate([
        ext("openat", str1=b"/very/long/path/name\0", ret=3, args=(2**64 - 100,), ts=10),
        ext("connect", str2=sockaddr_in("192.168.100.200", 8080), ret=0, args=(3, 0, 16),
            ts=20)]))]
    live_capture(tmp_path / "c.cdig", bs, snaplen=6)
    back, _ = replay([tmp_path / "c.cdig"], fmt="%evt.type %evt.info")
    assert back[0].startswith("openat dirfd=-100(AT_FDCWD) path=/very/ ")
    assert "addr=192.168.100.200:8080" in back[1]


def test_file_mode_0600_and_no_symlink(tmp_path):
    old = os.umask(0)
    try:
        p = tmp_path / "c.cdig"
        p.write_text("old")
        os.chmod(p, 0o644)
        live_capture(p, batches(1))
        assert (os.stat(p).st_mode & 0o777) == 0o600
        link = tmp_path / "link.cdig"
        link.symlink_to(tmp_path / "target")
        with pytest.raises(OSError):
            live_capture(link, batches(1))
        assert not (tmp_path / "target").exists()
    finally:
        os.umask(old)


def test_file_is_plain_arrow_for_other_tools(tmp_path):
    live_capture(tmp_path / "c.cdig", batches(2))
    with pa.memory_map(str(tmp_path / "c.cdig")) as f:
        t = ipc.open_stream(f).read_all()
    assert t.schema.field("comm").type == pa.binary()
    assert t.schema.metadata[b"cdig.format"] == b"cdig-capture"
    header = json.loads(t.schema.metadata[b"cdig.header"])
    assert header["syscall_arch"] == "x86_64" and header["mono_to_wall_ns"] == OFFSET
    snap = json.loads(t.schema.metadata[b"cdig.snapshot"])
    assert {p["pid"] for p in snap["processes"]} == {1, 50}
    assert t.num_rows == sum(len(b) for b in batches(2))


# --------------------------------------------------------------------------- damage


class Base:
    """A capture and its batches (a short repr: hypothesis prints it on failure)."""

    def __init__(self, d, data, ends, good):
        self.d, self.data, self.ends, self.good = d, data, ends, good

    def __iter__(self):
        return iter((self.d, self.data, self.ends, self.good))

    def __repr__(self):
        return f"<capture of {len(self.data)} bytes, batches ending at {self.ends}>"


@pytest.fixture(scope="module")
def damaged_base(tmp_path_factory):
    d = tmp_path_factory.mktemp("dmg")
    path = d / "c.cdig"
    live_capture(path, batches(5, 40), flush_rows=30)
    data = path.read_bytes()
    ends, good = [], []
    with pa.memory_map(str(path)) as src:
        r = ipc.open_stream(src)
        while True:
            try:
                rb, _ = r.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            ends.append(src.tell())
            good.append(rb)
    return Base(d, data, ends, good)


def _read_all(path):
    f = CaptureFile.open(str(path))
    got = [cb.records for cb in f.batches()]
    f.close()
    return got, f.loss


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10**9))
def test_truncated_at_any_offset(damaged_base, cut):
    d, data, ends, good = damaged_base
    cut = cut % (len(data) + 1)
    p = d / f"cut{os.getpid()}.cdig"
    p.write_bytes(data[:cut])
    try:
        got, loss = _read_all(p)
    except CaptureError as e:  # only for a file too short to be recognised at all
        assert cut < 8, e
        return
    complete = sum(1 for e in ends if e <= cut)
    assert len(got) == complete
    assert all(a.equals(b) for a, b in zip(got, good, strict=False))
    if cut < len(data):
        assert loss is not None and loss.reason == "truncated"
        assert loss.events == sum(b.num_rows for b in good[:complete])
        assert loss.unreadable == cut - (ends[complete - 1] if complete else 0) or complete == 0
    else:
        assert loss is None


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=10**9), bit=st.integers(0, 7))
def test_flipped_byte_never_returns_damaged_data(damaged_base, pos, bit):
    d, data, ends, good = damaged_base
    pos = pos % len(data)
    buf = bytearray(data)
    buf[pos] ^= 1 << bit
    p = d / f"flip{os.getpid()}.cdig"
    p.write_bytes(bytes(buf))
    try:
        got, loss = _read_all(p)
    except CaptureError:
        assert pos < ends[0]  # the header (schema + first empty batch) was hit
        return
    before = sum(1 for e in ends if e <= pos)
    assert len(got) >= before
    for a, b in zip(got, good, strict=False):
        assert a.equals(b)  # never a batch with damaged content
    if len(got) < len(good):
        assert loss is not None


def test_truncation_reported_by_the_cli(damaged_base, tmp_path, capsys):
    _, data, ends, good = damaged_base
    p = tmp_path / "t.cdig"
    p.write_bytes(data[: ends[2] + 100])
    assert main(["trace", "-r", str(p), "-p", "%evt.num"]) == 3  # EXIT_DAMAGED
    out, err = capsys.readouterr()
    n = sum(b.num_rows for b in good[:3])
    assert f"cdig: capture truncated after {n} events (100 bytes unreadable)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("content", [b"", b"hello world\n" * 10, b"\xff\xff\xff"])
def test_not_a_capture_is_one_line(tmp_path, capsys, content):
    p = tmp_path / "x.cdig"
    p.write_bytes(content)
    assert main(["trace", "-r", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cdig: ") and err.count("\n") == 1 and "not a cdig capture" in err


def test_foreign_arrow_and_future_version(tmp_path, capsys):
    p = tmp_path / "a.arrow"
    with ipc.new_stream(str(p), pa.schema([("x", pa.int64())])) as w:
        w.write_batch(pa.record_batch([pa.array([1])], names=["x"]))
    with pytest.raises(CaptureError, match="without cdig metadata"):
        CaptureFile.open(str(p))
    live_capture(tmp_path / "c.cdig", batches(1))
    with pa.memory_map(str(tmp_path / "c.cdig")) as f:
        t = ipc.open_stream(f).read_all()
    meta = dict(t.schema.metadata)
    meta[b"cdig.version"] = b"99"
    with ipc.new_stream(str(tmp_path / "v.cdig"), t.schema.with_metadata(meta)) as w:
        w.write_table(t)
    assert main(["trace", "-r", str(tmp_path / "v.cdig")]) == 1
    assert "capture format version 99 is not supported" in capsys.readouterr().err
    assert main(["trace", "-r", str(tmp_path / "missing.cdig")]) == 1
    assert "No such file" in capsys.readouterr().err


# --------------------------------------------------------------------------- rotation


class FakeClock:
    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def _ticking(bs, clock, step):
    for b in bs:
        clock.t += step
        yield b


def is_slice(sub: list, full: list) -> bool:
    if not sub:
        return True
    n = len(sub)
    return any(full[i:i + n] == sub for i in range(len(full) - n + 1))


@pytest.mark.parametrize("codec,size_mb", [("lz4", 0.012), ("zstd", 0.012), ("zstd", 0.016),
                                           ("lz4", 0.010)])
def test_rotation_by_size_names_and_keep(tmp_path, codec, size_mb):
    bs = batches(12, 60)
    base = tmp_path / "cap"
    # where a size cut falls decides which file holds what; zstd at 0.016 MB and lz4 at
    # 0.012 cut between an open and the closes live kept (entered before it: State's
    # fd_since), which a file read alone lost until the snapshot carried fd_since
    lines, rec = live_capture(base, bs, rotation=Rotation(size_bytes=int(size_mb * MB)),
                              flush_rows=40, compression=codec)
    files = rec.writer.files
    assert len(files) >= 3
    assert files == [f"{base}{i}" for i in range(len(files))]
    for f in files[:-1]:
        assert os.path.getsize(f) >= size_mb * MB
    back, _ = replay([str(base) + "*"])
    assert back == lines  # a rotation set reads as one capture, glob in any order
    back2, _ = replay(list(reversed(files)))
    assert back2 == lines
    # every file alone starts from its own snapshot: its lines are those it held live
    for f in files[1:]:
        alone, _ = replay([f])
        assert is_slice(alone, lines)
    assert sum(len(replay([f])[0]) for f in files) == len(lines)

    base2 = tmp_path / "ring"
    lines2, rec2 = live_capture(base2, bs, rotation=Rotation(size_bytes=int(size_mb * MB),
                                                              keep=2), flush_rows=40,
                                compression=codec)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ring"))
    assert len(rec2.writer.files) >= 3 and len(left) == 2
    assert left == sorted(os.path.basename(f) for f in rec2.writer.files[-2:])
    kept, _ = replay([str(base2) + "*"])
    assert kept and kept == lines2[-len(kept):]


def test_rotation_by_time_with_fake_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    clock = FakeClock()
    bs = list(_ticking(batches(10, 20), clock, 0))
    base = tmp_path / "t.cdig"
    web, lookup = containers_live()
    writer = CaptureWriter(str(base), host_info(T, OFFSET), Rotation(period_s=60, keep=3),
                           clock=clock, sync=False)
    rec = CaptureRecorder(writer, T, live_container_of=lookup, live_procfs=FakeProcFS(),
                          flush_rows=10**6, flush_s=1.0, monotonic=clock)
    state = State(container_of=rec.container_of, procfs=rec.procfs)
    dec = Decoder(T, OFFSET)
    rec.start(state, dec)
    lines = []
    f = Formatter(FMT)
    Session(ListSource(_ticking(bs, clock, 25)), dec, state, None,
            [EventSink(lambda e: lines.append(f.format(e))), rec]).run()
    rec.close()
    # 10 batches, 25 s apart: a file per 60 s (at the batch boundary past it)
    assert len(writer.files) == 4
    assert all(os.path.basename(n).startswith("t.cdig.2023") for n in writer.files)
    assert len({*writer.files}) == 4 and sum(os.path.exists(n) for n in writer.files) == 3
    kept, _ = replay(writer.files[1:])
    assert kept and kept == lines[-len(kept):]


def one_record_batch() -> pa.RecordBatch:
    rec = record("getppid", ret=1)
    rows = _Rows(rec, np.zeros(0, layout.EXT_RECORD), np.zeros(1, bool), np.ones(1, np.uint64),
                 np.zeros(1, bool))
    return rows_to_batch(rows, _Snaplen(None, T))


def test_strftime_names(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    clock = FakeClock(1_700_000_000.0)
    w = CaptureWriter(str(tmp_path / "cap-%H%M%S.cdig"), {}, Rotation(period_s=10),
                      clock=clock, sync=False)
    w.open({})
    clock.t += 10
    assert not w.due()  # nothing written yet: an empty file is not rotated
    w.write(one_record_batch(), {})
    assert w.due()
    w.rotate({})
    w.close()
    assert [os.path.basename(p) for p in w.files] == ["cap-221320.cdig", "cap-221330.cdig"]


def test_capture_cli_usage_errors(capsys):
    assert main(["trace", "-C", "10"]) == 2
    assert "add -w FILE" in capsys.readouterr().err
    assert main(["trace", "-w", "/tmp/x", "-W", "3"]) == 2
    assert "-W needs -C or -G" in capsys.readouterr().err
    assert main(["trace", "-w", "/tmp/x", "--string-len", "0"]) == 2
    assert main(["trace", "-r", "/tmp/cap0", "-w", "/tmp/cap", "-C", "1"]) == 2
    assert "would overwrite" in capsys.readouterr().err


def test_unwritable_capture_is_reported_before_tracing(tmp_path, capsys):
    live_capture(tmp_path / "a.cdig", batches(1))
    assert main(["trace", "-r", str(tmp_path / "a.cdig"), "-w", "/nonexistent/dir/x"]) == 1
    err = capsys.readouterr().err
    assert err == "cdig: cannot write /nonexistent/dir/x: no such directory (/nonexistent/dir)\n"


def test_recapture_with_a_narrower_filter(tmp_path, capsys):
    lines, _ = live_capture(tmp_path / "a.cdig", batches(4, 40))
    assert main(["trace", "-r", str(tmp_path / "a.cdig"), "-w", str(tmp_path / "b.cdig"),
                 "proc.pid=50"]) == 0
    assert "events" in capsys.readouterr().err
    back, _ = replay([tmp_path / "b.cdig"])
    assert back == [ln for ln in lines if " (50) " in ln]


def test_reading_imports_no_bcc(tmp_path):
    live_capture(tmp_path / "c.cdig", batches(1))
    code = ("import sys; from cdig.cli import main; main(['trace','-r',sys.argv[1]]); "
            "main(['summary','-r',sys.argv[1]]); print('bcc' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.cdig")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("False")


class ChangingProcFS(FakeProcFS):
    """/proc whose answer for (50, 5) changes after it is first asked: fd 5 was closed
    and reused by a call the trace did not see (issue 11 item 5)."""

    def fd_target(self, pid, fd):
        if (pid, fd) == (50, 5):
            self.asked = getattr(self, "asked", 0) + 1
            return "/srv/old.log" if self.asked == 1 else "/srv/new.log"
        return super().fd_target(pid, fd)


def test_replay_gives_each_record_the_answer_live_got(tmp_path):
    """Two /proc answers for one fd in one batch: each line names what live named."""
    kw = dict(pid=50, comm=b"server")
    small = np.concatenate([record("write", ret=1, args=(5, 0, 1), ts=1, **kw),
                            record("close", args=(5,), ts=2, **kw),
                            record("write", ret=1, args=(5, 0, 1), ts=3, **kw)])
    writer = CaptureWriter(str(tmp_path / "c.cdig"), host_info(T, OFFSET), sync=False)
    rec = CaptureRecorder(writer, T, live_procfs=ChangingProcFS())
    state = State(container_of=rec.container_of, procfs=rec.procfs)
    dec = Decoder(T, OFFSET)
    rec.start(state, dec)
    out = _Lines()
    Session(ListSource([RawBatch(small, np.zeros(0, layout.EXT_RECORD))]), dec, state, None,
            [rec, LineSink(BatchRenderer.text("*%evt.num %fd.name", T), out)]).run()
    rec.close()
    live = out.lines()
    assert live == ["1 /srv/old.log", "2 /srv/old.log", "3 /srv/new.log"]
    back, _ = replay([tmp_path / "c.cdig"], fmt="*%evt.num %fd.name")
    assert back == live


def test_flipped_sign_of_a_message_body_length_is_damage_not_an_error(damaged_base):
    """Found by the hypothesis test above (pos 8964, bit 0 of this capture): a batch's
    body length turned negative made the size scan seek before the file (EINVAL), and
    the whole capture was refused instead of reading its intact batches."""
    d, data, ends, good = damaged_base
    for pos in range(ends[1], ends[1] + 200):
        for bit in range(8):
            buf = bytearray(data)
            buf[pos] ^= 1 << bit
            p = d / "sign.cdig"
            p.write_bytes(bytes(buf))
            got, loss = _read_all(p)  # never a CaptureError past the header
            assert len(got) >= 2 and all(a.equals(b) for a, b in zip(got, good, strict=False))

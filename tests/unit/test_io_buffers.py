"""I/O data (sysdig's data / evt.buffer): the probe's records decoded, the filter on
them, sysdig's five renderings (-A -x -X -b and the default), the cdig capture and the
.scap reader and writer keeping the bytes. The real sysdig reading the same bytes is
in tests/integration/test_io_buffers_live.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from factories import DEV_NULL, make_event
from records import T, ext, record, sockaddr_in
from test_capture import live_capture, replay

from cdig.cli import main
from cdig.collector.decode import Decoder, RawBatch
from cdig.collector.fields import buffer as fbuf
from cdig.collector.filter import compile_filter
from cdig.collector.formatter import Formatter, JsonFormatter
from cdig.collector.scap.reader import ScapSource
from cdig.probes.loader import ProbeError
from cdig.probes.syscalls import layout
from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scap"
# curl_google.scap event 1312 (sendto), as the real sysdig 0.29.3 prints its data
GET = (b"GET / HTTP/1.1\r\nHost: www.google.com\r\nUser-Agent: curl/7.47.0\r\n"
       b"Accept: */*\r\n\r\n")
SYSDIG_X = ("\n\t0x0000: 4745 5420 2f20 4854 5450 2f31 2e31 0d0a  GET / HTTP/1.1.."
            "\n\t0x0010: 486f 7374 3a20 7777 772e 676f 6f67 6c65  Host: www.google"
            "\n\t0x0020: 2e63 6f6d 0d0a 5573 6572 2d41 6765 6e74  .com..User-Agent"
            "\n\t0x0030: 3a20 6375 726c 2f37 2e34 372e 300d 0a41  : curl/7.47.0..A"
            "\n\t0x0040: 6363 6570 743a 202a 2f2a 0d0a 0d0a       ccept: */*....\n")


@pytest.fixture(autouse=True)
def _default_mode():
    yield
    fbuf.set_print_mode(fbuf.DOTS)


def io_ext(name: str, data: bytes, ret: int | None = None, str2: bytes = b"",
           **kw) -> np.ndarray:
    """An ext record as the probe writes an I/O call's: data from str1 on."""
    x = ext(name, str2=str2, ret=len(data) if ret is None else ret,
            flags=layout.FLAG_IO_DATA, len1=len(data), **kw)
    raw = x.view(np.uint8).reshape(-1)
    raw[layout.STR1_OFFSET:layout.STR1_OFFSET + len(data)] = np.frombuffer(data, np.uint8)
    return x


def decoded(*xs: np.ndarray) -> list:
    dec = Decoder(T, 0)
    return list(dec.decode(RawBatch(np.zeros(0, layout.RECORD), np.concatenate(xs))))


# -- renderings -------------------------------------------------------------------------

def test_renderings_are_sysdigs():
    assert fbuf.render(GET, fbuf.DOTS) == ("GET / HTTP/1.1..Host: www.google.com..User-Agent: "
                                          "curl/7.47.0..Accept: */*....")
    assert fbuf.render(GET, fbuf.HEX_ASCII) == SYSDIG_X
    # -x: the hex columns alone, no trailing blanks on a short last line
    assert fbuf.render(GET, fbuf.HEX) == "\n".join(
        ln.split("  ")[0].rstrip() for ln in SYSDIG_X.split("\n")[:-1]) + "\n"
    # -A: \r dropped, newlines kept
    assert fbuf.render(GET, fbuf.ASCII) == "\n" + GET.replace(b"\r", b"").decode()
    assert fbuf.render(GET, fbuf.BASE64) == base64.b64encode(GET).decode()
    for mode in fbuf.MODES:
        assert fbuf.render(b"", mode) == ""


def test_renderings_of_hostile_bytes_are_printable():
    evil = bytes(range(256)) + b"\x1b]0;pwned\x07\x1b[2J\xe2\x80\xae"
    for mode in fbuf.MODES:
        text = fbuf.render(evil, mode)
        assert all(c in "\n\t" or 0x20 <= ord(c) < 0x7F for c in text), mode
    assert len(fbuf.dots(evil)) == len(evil)


# -- decoding and fields ----------------------------------------------------------------

def test_decoded_buffer_and_data_argument():
    ev, = decoded(io_ext("write", b"hello\x1b[31m", args=(3, 0, 10)))
    assert ev.buffer == b"hello\x1b[31m"
    assert Formatter("%evt.info").format(ev) == "fd=3 size=10 res=10 data=hello.[31m"
    assert Formatter("%evt.buflen %evt.buffer").format(ev) == "10 hello.[31m"


def test_data_runs_from_str1_into_str2():
    data = bytes(range(256)) * 3
    ev, = decoded(io_ext("read", data, args=(3, 0, 4096)))
    assert ev.buffer == data and len(ev.buffer) == layout.IO_MAX


def test_sendto_keeps_its_address_beside_the_data():
    ev, = decoded(io_ext("sendto", b"GET /", str2=sockaddr_in("10.1.2.3", 80), len2=16,
                         args=(3, 0, 5, 0, 0, 16)))
    assert ev.buffer == b"GET /"
    assert ev.args["addr"] == "10.1.2.3:80"


def test_failed_and_plain_records():
    failed, plain = decoded(io_ext("read", b"", ret=-11, args=(3, 0, 10)),
                            ext("openat", str1=b"/etc/passwd\0", ret=3))
    assert failed.buffer == b"" and Formatter("%evt.info").format(failed).endswith(
        "res=-11(EAGAIN) data=")
    assert plain.buffer is None and "data=" not in Formatter("%evt.info").format(plain)
    assert Formatter("%evt.buflen").format(failed) is None  # no bytes moved: <NA>, skipped


@pytest.mark.parametrize("text,hit", [
    ("evt.buffer contains GET", True), ("evt.buffer contains POST", False),
    ("evt.buffer bcontains 474554", True), ("evt.buffer bstartswith 1b", False),
    ("evt.buffer bcontains 1b5b", True), ("evt.buflen = 12", True), ("evt.buflen > 12", False),
    ("evt.buffer icontains get", True), ("evt.info contains 'data=GET'", True),
])
def test_filters(text, hit):
    ev = make_event(type="sendto", res=12, buffer=b"GET /\x1b[2J\xff\x00x", fd=DEV_NULL)
    assert compile_filter(text)(ev) is hit


def test_text_and_json_output_modes():
    ev = make_event(type="write", res=len(GET), buffer=GET, args={"fd": 3, "size": len(GET)})
    fbuf.set_print_mode(fbuf.HEX_ASCII)
    assert Formatter("%evt.info").format(ev) == \
        f"fd=3(<f>/dev/null) size={len(GET)} res={len(GET)} data=" + SYSDIG_X
    hostile = make_event(type="write", res=6, buffer=b'"\\\x1b[2J\n', args={"fd": 3, "size": 6})
    fbuf.set_print_mode(fbuf.DOTS)
    line = JsonFormatter(["evt.info", "evt.buffer"]).format(hostile)
    obj = json.loads(line)
    assert obj["evt.info"].endswith('data="\\.[2J.')
    assert obj["evt.buffer"] == '"\\\x1b[2J\n' and "\x1b" not in line
    assert Formatter("%evt.buffer").format(hostile) == '"\\.[2J.'


# -- captures ---------------------------------------------------------------------------

def test_cdig_capture_keeps_the_data(tmp_path):
    data = b"POST /login HTTP/1.1\r\n" + bytes(range(256)) * 2
    bs = [RawBatch(np.concatenate([record("getppid", ts=5)]), np.concatenate([
        io_ext("write", data[:layout.IO_MAX], args=(3, 0, 600), ts=10),
        io_ext("recvfrom", b"pong\x00\x01", str2=sockaddr_in("10.0.0.9", 53), len2=16,
               args=(3, 0, 64, 0, 0, 0), ts=20),
        ext("openat", str1=b"/very/long/path/name\0", ret=3, args=(2**64 - 100,), ts=30)]))]
    lines, _ = live_capture(tmp_path / "c.cdig", bs, snaplen=6, fmt="%evt.type %evt.info")
    back, _ = replay([tmp_path / "c.cdig"], fmt="%evt.type %evt.info")
    assert back[:3] == lines[:3] and "data=" in back[1] and "data=" in back[2]
    b64, _ = replay([tmp_path / "c.cdig"], "evt.buffer bcontains 706f6e670001", fmt="%evt.buffer")
    assert b64 == [fbuf.dots(b"pong\x00\x01")]
    fbuf.set_print_mode(fbuf.BASE64)
    full, _ = replay([tmp_path / "c.cdig"], "evt.type=write", fmt="%evt.buffer")
    assert base64.b64decode(full[0]) == data[:layout.IO_MAX]  # --string-len cuts paths only
    assert any(ln.startswith("openat dirfd=-100(AT_FDCWD) path=/very/ ") for ln in back)


def test_scap_reader_gives_the_sample_captures_data():
    src = ScapSource([str(FIXTURES / "curl_google.scap")])
    dec = Decoder(T, 0)
    bufs = {}
    for raw in src.batches():
        for ev in dec.decode(raw):
            if ev.buffer is not None:
                bufs[ev.num] = ev.buffer
    assert bufs[1312] == GET
    assert bufs[1195].endswith(b"\x03www\x06google\x03com\x00\x00\x1c\x00\x01")  # slow path
    assert len(bufs) == 61  # sysdig -r curl_google.scap: 61 exits of I/O calls


# -- probe configuration and CLI --------------------------------------------------------

def test_probe_flags_only_with_a_snaplen():
    off = SyscallProbe(ProbeConfig(), T, self_tgid=1)
    assert "-DSNAPLEN=0" in off.cflags()
    assert not (off.sysinfo()["flags"] & layout.SYS_IO).any()
    on = SyscallProbe(ProbeConfig(snaplen=80), T, self_tgid=1)
    info = on.sysinfo()
    assert info[T.nr("write")]["flags"] & layout.SYS_IO
    assert info[T.nr("writev")]["flags"] & layout.SYS_IOV
    assert info[T.nr("recvmsg")]["flags"] & layout.SYS_MSG
    assert not info[T.nr("getppid")]["flags"] & layout.SYS_IO
    assert not info[T.nr("sendfile")]["flags"] & layout.SYS_IO  # its count only (evt.buflen)
    with pytest.raises(ProbeError):
        SyscallProbe(ProbeConfig(snaplen=layout.IO_MAX + 1), T, self_tgid=1)


def test_cli_flags(tmp_path, capsys):
    assert main(["trace", "-s", "769", "-r", str(FIXTURES / "cat_write.scap")]) == 2
    assert "-s takes 0 to 768" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one rendering at a time
        main(["trace", "-A", "-x", "-r", str(FIXTURES / "cat_write.scap")])
    capsys.readouterr()
    assert main(["trace", "-X", "-n", "1", "-r", str(FIXTURES / "curl_google.scap"),
                 "evt.num=1312"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("res=78 data=" + SYSDIG_X + "\n")
    assert main(["trace", "--failed", "-n", "1", "-p", "%evt.res", "-r",
                 str(FIXTURES / "curl_google.scap")]) == 0
    assert capsys.readouterr().out.strip() != "SUCCESS"


# -- enter events -----------------------------------------------------------------------

@pytest.mark.parametrize("text,want", [
    ("", False), ("proc.name=cat", False), ("evt.dir=<", False), ("evt.dir!=>", False),
    ("evt.dir=>", True), ("evt.dir in (>,<)", True), ("evt.dir!=<", True),
    ("not evt.dir=<", True), ("evt.type=read and (evt.dir=> or fd.num=3)", True),
])
def test_enter_records_only_when_the_filter_can_select_them(text, want):
    from cdig.trace import wants_enter_events

    assert wants_enter_events(compile_filter(text)) is want


def test_enter_events_define():
    assert "-DENTER_EVENTS" not in SyscallProbe(ProbeConfig(), T, self_tgid=1).cflags()
    assert "-DENTER_EVENTS" in SyscallProbe(ProbeConfig(enter_events=True), T,
                                            self_tgid=1).cflags()


def test_enter_record_decoded_and_printed_like_sysdig():
    enter = record("read", kind=layout.KIND_SYSCALL_ENTER, args=(0, 0, 100), ret=0, latency=0)
    ev, = Decoder(T, 0).decode(RawBatch(enter, np.zeros(0, layout.EXT_RECORD)))
    assert (ev.dir, ev.type, ev.buffer) == (">", "read", None)
    assert Formatter("%evt.dir %evt.type %evt.info").format(ev) == "> read fd=0 size=100"
    assert compile_filter("evt.dir=> and evt.type=read")(ev)


def test_scap_writer_writes_an_entered_call_s_enter_once(tmp_path):
    from cdig.collector.scap.writer import ScapWriter
    from cdig.collector.state import State

    enter = record("read", kind=layout.KIND_SYSCALL_ENTER, args=(0, 0, 100), ts=1_000,
                   latency=0)
    done = io_ext("read", b"hi", args=(0, 0, 100), ts=5_000, latency=4_000)
    path = tmp_path / "e.scap"
    w = ScapWriter(str(path), T, 0, hostname="h", ncpus=1)
    w.write(RawBatch(enter, done), State())
    w.close()
    src = ScapSource([str(path)])
    dec = Decoder(T, 0)
    reads = [e for raw in src.batches() for e in dec.decode(raw) if e.type == "read"]
    # one enter event and one exit event in the file: paired back into one record
    assert [(e.dir, e.latency_ns, e.buffer) for e in reads] == [("<", 4_000, b"hi")]

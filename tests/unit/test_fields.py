"""The field table: names, getters, sysdig-style rendering, errno helpers."""

from __future__ import annotations

import time

import pytest
from factories import DEV_NULL, TCP, TS_NS, WEB, make_event, make_process, openat_event

from cdig.collector import fields
from cdig.collector.events import HOST, EventKind, FdInfo
from cdig.collector.fields import (
    FIELDS,
    FieldType,
    UnknownFieldError,
    errno_name,
    errno_number,
    list_fields,
    resolve,
)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fields.clear_time_cache()
    yield
    monkeypatch.undo()
    time.tzset()
    fields.clear_time_cache()


def get(name: str, event) -> object:
    return resolve(name).get(event)


# ----------------------------------------------------------------- table and lookup

REQUIRED = """evt.num evt.time evt.outputtime evt.datetime evt.rawtime evt.type evt.dir evt.cpu
evt.res evt.rawres evt.failed evt.latency evt.args evt.info proc.name proc.pid proc.ppid
proc.cmdline proc.exe proc.args thread.tid thread.vtid user.uid user.name container.id
container.name container.image container.type k8s.pod.name k8s.ns.name fd.name fd.type fd.num
fd.sip fd.sport fd.cip fd.cport fd.lip fd.lport fd.rip fd.rport fd.l4proto fs.path.name""".split()


def test_every_required_field_is_in_the_table():
    missing = [n for n in REQUIRED if n not in FIELDS]
    assert missing == []


def test_every_field_has_a_description_and_consistent_name():
    for name, f in FIELDS.items():
        assert f.name == name
        assert f.description and "\n" not in f.description
        assert isinstance(f.type, FieldType)


def test_list_fields_groups_by_class_in_sysdig_order():
    classes = list(list_fields())
    assert [c.name for c in classes] == [
        "evt", "process", "thread", "user", "container", "fd", "fs", "k8s"
    ]
    listed = [f.name for c in classes for f in c.fields]
    bare_families = {h.name for h in fields.HELP_FIELDS}
    assert sorted(n for n in listed if n not in bare_families) == sorted(FIELDS)
    assert {"evt.arg", "evt.rawarg", "evt.type.is", "k8s.pod.label"} <= set(listed)
    assert len(listed) == len(set(listed))


def test_format_field_list_mentions_every_field():
    text = fields.format_field_list()
    assert "Field Class:                  container" in text
    for name in fields.shared_names():
        assert f"\n{name} " in text
    verbose = fields.format_field_list(verbose=True)
    assert "evt.num                       (Type: int) event number" in verbose


def test_markdown_list_has_one_row_per_field():
    md = fields.format_field_markdown()
    rows = [ln for ln in md.splitlines() if ln.startswith("`")]
    assert len(rows) == len(fields.shared_names())
    assert "`fd.net` | ipnet | (filters only)" in md


def test_resolve_unknown_field_suggests_the_closest():
    with pytest.raises(UnknownFieldError) as exc:
        resolve("proc.nmae")
    assert exc.value.suggestion == "proc.name"
    assert "did you mean 'proc.name'" in str(exc.value)


def test_resolve_unknown_field_without_anything_close():
    with pytest.raises(UnknownFieldError) as exc:
        resolve("zzzzzz")
    assert exc.value.suggestion is None
    assert "did you mean" not in str(exc.value)


@pytest.mark.parametrize("bad", ["evt.arg.", "evt.arg.1x", "evt.arg.a b", "evt.arg.a.b"])
def test_resolve_rejects_bad_argument_names(bad: str):
    with pytest.raises(UnknownFieldError):
        resolve(bad)


def test_evt_arg_is_a_dynamic_field():
    f = resolve("evt.arg.path")
    assert f.type == FieldType.DYNAMIC
    assert f.get(openat_event()) == "/etc/passwd"
    assert f.get(make_event()) is None
    assert resolve("evt.arg.fd").get(make_event()) == 3


# ----------------------------------------------------------------- errno


@pytest.mark.parametrize(
    ("number", "name"),
    [(2, "ENOENT"), (13, "EACCES"), (11, "EAGAIN"), (35, "EDEADLK"), (95, "EOPNOTSUPP"),
     (512, "ERESTARTSYS"), (9999, "E9999")],
)
def test_errno_name(number: int, name: str):
    assert errno_name(number) == name
    assert errno_number(name) == number


def test_errno_aliases_map_to_the_same_number():
    assert errno_number("EWOULDBLOCK") == 11
    assert errno_number("ENOTSUP") == 95
    assert fields.canonical_errno_name("EWOULDBLOCK") == "EAGAIN"
    assert fields.canonical_errno_name("SUCCESS") == "SUCCESS"
    assert errno_number("ENOPE") is None


def test_errno_round_trips():
    for n in range(1, 600):
        assert errno_number(errno_name(n)) == n


# ----------------------------------------------------------------- evt.*


def test_times():
    e = make_event()
    assert get("evt.time", e) == "03:04:05.123456789"
    assert get("evt.outputtime", e) == "03:04:05.123456789"
    assert get("evt.datetime", e) == "2024-01-02 03:04:05.123456789"
    assert get("evt.rawtime", e) == TS_NS


def test_time_is_local(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "XYZ-02")  # POSIX: two hours east of UTC, no tzdata needed
    time.tzset()
    fields.clear_time_cache()
    assert get("evt.time", make_event(ts_ns=TS_NS + 7)) == "05:04:05.123456796"


def test_time_pads_nanoseconds():
    e = make_event(ts_ns=TS_NS - 123_456_789 + 5)
    assert get("evt.time", e) == "03:04:05.000000005"


def test_result_fields_of_a_success():
    e = make_event(res=7)
    assert get("evt.res", e) == "SUCCESS"
    assert get("evt.rawres", e) == 7
    assert get("evt.failed", e) is False


def test_result_fields_of_a_failure():
    e = openat_event(res=-2)
    assert get("evt.res", e) == "ENOENT"
    assert get("evt.rawres", e) == -2
    assert get("evt.failed", e) is True


@pytest.mark.parametrize("kind", [EventKind.SYSCALL_ENTER, EventKind.EXEC, EventKind.EXIT])
def test_events_without_a_result_have_no_res(kind: EventKind):
    e = make_event(kind=kind, res=0, dir=">", type="procexit", args={})
    assert get("evt.res", e) is None
    assert get("evt.rawres", e) is None
    assert get("evt.failed", e) is False


def test_basic_evt_fields():
    e = make_event(num=42, cpu=1, latency_ns=999)
    assert (get("evt.num", e), get("evt.cpu", e), get("evt.latency", e)) == (42, 1, 999)
    assert (get("evt.type", e), get("evt.dir", e)) == ("write", "<")


def test_evt_args_and_info_annotate_the_fd():
    e = make_event()
    assert get("evt.args", e) == "fd=3(<f>/dev/null) size=1"
    assert get("evt.info", e) == "fd=3(<f>/dev/null) size=1 res=1"


def test_evt_info_without_fd_state():
    e = make_event(fd=None, args={"fd": 7, "size": 10}, res=10)
    assert get("evt.info", e) == "fd=7 size=10 res=10"


def test_evt_info_of_openat_annotates_dirfd_and_result():
    assert get("evt.info", openat_event()) == (
        "dirfd=-100(AT_FDCWD) path=/etc/passwd flags=O_RDONLY|O_CLOEXEC mode=0 "
        "res=3(<f>/etc/passwd)"
    )


def test_evt_info_of_a_failure_names_the_errno():
    assert get("evt.info", openat_event(res=-13)).endswith(" res=-13(EACCES)")


def test_evt_info_of_a_socket_shows_protocol():
    e = make_event(type="connect", args={"fd": 5, "addr": "127.0.0.1:8080"}, res=0, fd=TCP)
    assert get("evt.info", e) == (
        "fd=5(<4t>127.0.0.1:40000->127.0.0.1:8080) addr=127.0.0.1:8080 res=0"
    )


def test_evt_info_only_annotates_the_matching_fd():
    e = make_event(type="dup2", args={"oldfd": 9, "newfd": 3}, res=3)
    assert get("evt.info", e) == "oldfd=9 newfd=3(<f>/dev/null) res=3"


def test_evt_info_of_execve_joins_argv_and_sched_events_have_no_res():
    e = make_event(
        kind=EventKind.SYSCALL_ENTER, type="execve", dir=">", res=0, fd=None,
        args={"filename": "/bin/ls", "argv": ["ls", "-l"]},
    )
    assert get("evt.info", e) == "filename=/bin/ls argv=ls -l"
    assert get("evt.arg.argv", e) == ["ls", "-l"]
    exit_ = make_event(kind=EventKind.EXIT, type="procexit", dir=">", res=0, fd=None, args={})
    assert get("evt.info", exit_) == ""


def test_evt_info_renders_missing_and_bytes_values():
    e = make_event(fd=None, args={"a": None, "b": b"\xffx", "c": True})
    assert get("evt.args", e) == "a=<NA> b=\udcffx c=true"


# ----------------------------------------------------------------- proc, thread, user


def test_proc_fields_with_process_state():
    e = make_event(comm="bash", proc=make_process(ppid=77))
    assert get("proc.name", e) == "bash"
    assert get("proc.pid", e) == 1234
    assert get("proc.ppid", e) == 77
    assert get("proc.cmdline", e) == "bash -c echo hi"
    assert get("proc.exe", e) == "/usr/bin/bash"
    assert get("proc.args", e) == "-c echo hi"


def test_proc_fields_without_process_state():
    e = make_event(comm="kworker/0:1", proc=None)
    assert get("proc.name", e) == "kworker/0:1"  # from the kernel's comm, always there
    for name in ("proc.ppid", "proc.cmdline", "proc.exe", "proc.args"):
        assert get(name, e) is None


def test_proc_args_empty_and_exe_unknown():
    e = make_event(proc=make_process(args=[], exe=""))
    assert get("proc.args", e) == ""
    assert get("proc.cmdline", e) == "bash"
    assert get("proc.exe", e) is None


def test_thread_fields():
    e = make_event(pid=10, tid=11)
    assert get("thread.tid", e) == 11
    assert get("thread.vtid", e) == 11  # host: the host pid namespace
    assert get("thread.vtid", make_event(container=WEB)) is None  # not known: <NA>


def test_user_fields():
    assert get("user.uid", make_event(uid=0)) == 0
    assert get("user.name", make_event(uid=0)) == "root"
    assert get("user.name", make_event(uid=3_999_999_999)) == "3999999999"


# ----------------------------------------------------------------- container, k8s


def test_container_fields():
    e = make_event(container=WEB)
    assert get("container.id", e) == "3f2a9c1b7d4e"
    assert get("container.full_id", e) == WEB.id
    assert get("container.name", e) == "web"
    assert get("container.image", e) == "docker.io/library/nginx:1.25"
    assert get("container.type", e) == "podman"
    assert get("k8s.pod.name", e) == "web-7d9f"
    assert get("k8s.ns.name", e) == "prod"


def test_host_container_fields():
    e = make_event(container=HOST)
    assert get("container.id", e) == "host"
    assert get("container.name", e) == "host"
    assert get("container.type", e) == "host"
    assert get("container.image", e) is None
    assert get("k8s.pod.name", e) is None


# ----------------------------------------------------------------- fd, fs


def test_fd_fields_of_a_file():
    e = make_event(fd=FdInfo(num=4, type="file", name="/var/log/syslog"))
    assert get("fd.num", e) == 4
    assert get("fd.type", e) == "file"
    assert get("fd.name", e) == "/var/log/syslog"
    assert get("fd.directory", e) == "/var/log"
    assert get("fd.filename", e) == "syslog"
    for name in ("fd.sip", "fd.sport", "fd.cip", "fd.l4proto", "fd.lip", "fd.rport"):
        assert get(name, e) is None


def test_fd_num_falls_back_to_the_fd_argument():
    assert get("fd.num", make_event(fd=None, args={"fd": 9})) == 9
    assert get("fd.num", make_event(fd=None, args={"path": "/x"})) is None
    assert get("fd.name", make_event(fd=None)) is None


def test_socket_fields_client_end():
    e = make_event(fd=TCP)
    assert (get("fd.cip", e), get("fd.cport", e)) == ("127.0.0.1", 40000)
    assert (get("fd.sip", e), get("fd.sport", e)) == ("127.0.0.1", 8080)
    assert (get("fd.lport", e), get("fd.rport", e)) == (40000, 8080)
    assert get("fd.l4proto", e) == "tcp"
    assert get("fd.filename", e) is None


def test_socket_fields_server_end():
    fd = FdInfo(num=6, type="ipv6", name="[::1]:5->[::1]:80", l4proto="tcp", cip="::1",
                cport=5, sip="::2", sport=80, local_is_client=False)
    e = make_event(fd=fd)
    assert (get("fd.lip", e), get("fd.lport", e)) == ("::2", 80)
    assert (get("fd.rip", e), get("fd.rport", e)) == ("::1", 5)


def test_fs_path_name():
    assert get("fs.path.name", openat_event("/etc/shadow")) == "/etc/shadow"
    execve = make_event(type="execve", args={"filename": "/bin/ls", "argv": ["ls"]}, fd=None)
    assert get("fs.path.name", execve) == "/bin/ls"
    assert get("fs.path.name", make_event(fd=DEV_NULL)) == "/dev/null"  # write to a file fd
    assert get("fs.path.name", make_event(fd=TCP)) is None
    assert get("fs.path.name", make_event(fd=None, args={"fd": 3})) is None


def test_text_getters_render_like_value_text():
    e = make_event(proc=make_process(), container=WEB, fd=TCP)
    for f in FIELDS.values():
        if f.any_of:
            assert f.text(e) is None, f.name  # filter-only: never printed
        elif f.name not in ("evt.latency.ns", "evt.rawtime.ns", "evt.reltime.ns"):  # 0-padded
            assert f.text(e) == fields.value_text(f.get(e)), f.name


def test_user_name_is_cached():
    fields.user_name.cache_clear()
    fields.user_name(0)
    fields.user_name(0)
    assert fields.user_name.cache_info().hits == 1

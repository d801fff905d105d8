"""The syscall probe: one record per syscall (and per exec/fork/exit) into rings.

    program.bpf.c  the BPF C (raw_syscalls, sched and sock tracepoints)
    record.h       the records and the sysinfo table, as C structs
    layout.py      their numpy mirrors (tests/unit/test_layout.py compiles both)
    probe.py       SyscallProbe: -D defines, load (objcache, else bcc), maps, rings

Read by ``collector/sources.LiveSource`` (``probes/ringbuf.py`` drains the rings).
"""

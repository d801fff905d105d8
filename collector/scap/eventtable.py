"""The event table of the libs that sysdig 0.29.3 is built on (falcosecurity/libs
e5c53d64, ``driver/event_table.c``), as data: for each event type id (the
position in ``EVENTS``), its name, flags and parameters.

Generated once from that table: the names, flags and parameter types are the
.scap format's vocabulary (see ../shared/scap/FORMAT.md §1.4-1.5); all 336 ids
are unchanged at libs HEAD, which only appends ids 336 and up.

Flags: ``L`` the parameter length slots are u32 (EF_LARGE_PAYLOAD), ``O`` an old
version of an event (EF_OLD_VERSION), ``U`` unused. Parameter types: ``i1 i2 i4
i8 u1 u2 u4 u8`` integers (little-endian; fds, pids and errnos are i8), ``s`` a
NUL-terminated string, ``b`` raw bytes, ``A`` a sockaddr, ``T`` a socket tuple,
``L`` an fd list, ``d`` a dynamic parameter (u8 index + value), ``f8`` a double.

``SYSCALL_EVENT`` and ``SYSCALL_SC`` (from ``driver/syscall_table.c``) say which
event the drivers emit for each x86_64 syscall and which syscall id its generic
events carry; a writer that emits the same is read by sysdig as its own captures.

``PPM_SC`` names the syscall ids (``enum ppm_syscall_code``) that the generic
events (``syscall``, ids 0/1) carry in their ``ID`` parameter.
"""

# ruff: noqa: E501

EVENTS = (
    ('syscall', '', 'ID:u2 nativeID:u2'),  # 0
    ('syscall', '', 'ID:u2'),  # 1
    ('open', '', 'name:s flags:u4 mode:u4'),  # 2
    ('open', '', 'fd:i8 name:s flags:u4 mode:u4 dev:u4'),  # 3
    ('close', '', 'fd:i8'),  # 4
    ('close', '', 'res:i8'),  # 5
    ('read', '', 'fd:i8 size:u4'),  # 6
    ('read', '', 'res:i8 data:b'),  # 7
    ('write', '', 'fd:i8 size:u4'),  # 8
    ('write', '', 'res:i8 data:b'),  # 9
    ('brk', 'O', 'size:u4'),  # 10
    ('brk', 'O', 'res:u8'),  # 11
    ('execve', 'O', ''),  # 12
    ('execve', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8'),  # 13
    ('clone', 'O', ''),  # 14
    ('clone', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 flags:u4 uid:u4 gid:u4'),  # 15
    ('procexit', 'O', ''),  # 16
    ('NA1', 'U', ''),  # 17
    ('socket', '', 'domain:u4 type:u4 proto:u4'),  # 18
    ('socket', '', 'fd:i8'),  # 19
    ('bind', '', 'fd:i8'),  # 20
    ('bind', '', 'res:i8 addr:A'),  # 21
    ('connect', '', 'fd:i8 addr:A'),  # 22
    ('connect', '', 'res:i8 tuple:T'),  # 23
    ('listen', '', 'fd:i8 backlog:u4'),  # 24
    ('listen', '', 'res:i8'),  # 25
    ('accept', 'O', ''),  # 26
    ('accept', 'O', 'fd:i8 tuple:T queuepct:u1'),  # 27
    ('send', '', 'fd:i8 size:u4'),  # 28
    ('send', '', 'res:i8 data:b'),  # 29
    ('sendto', '', 'fd:i8 size:u4 tuple:T'),  # 30
    ('sendto', '', 'res:i8 data:b'),  # 31
    ('recv', '', 'fd:i8 size:u4'),  # 32
    ('recv', '', 'res:i8 data:b'),  # 33
    ('recvfrom', '', 'fd:i8 size:u4'),  # 34
    ('recvfrom', '', 'res:i8 data:b tuple:T'),  # 35
    ('shutdown', '', 'fd:i8 how:u1'),  # 36
    ('shutdown', '', 'res:i8'),  # 37
    ('getsockname', '', ''),  # 38
    ('getsockname', '', ''),  # 39
    ('getpeername', '', ''),  # 40
    ('getpeername', '', ''),  # 41
    ('socketpair', '', 'domain:u4 type:u4 proto:u4'),  # 42
    ('socketpair', '', 'res:i8 fd1:i8 fd2:i8 source:u8 peer:u8'),  # 43
    ('setsockopt', '', ''),  # 44
    ('setsockopt', '', 'res:i8 fd:i8 level:u1 optname:u1 val:d optlen:u4'),  # 45
    ('getsockopt', '', ''),  # 46
    ('getsockopt', '', 'res:i8 fd:i8 level:u1 optname:u1 val:d optlen:u4'),  # 47
    ('sendmsg', '', 'fd:i8 size:u4 tuple:T'),  # 48
    ('sendmsg', '', 'res:i8 data:b'),  # 49
    ('sendmmsg', '', ''),  # 50
    ('sendmmsg', '', ''),  # 51
    ('recvmsg', '', 'fd:i8'),  # 52
    ('recvmsg', '', 'res:i8 size:u4 data:b tuple:T'),  # 53
    ('recvmmsg', '', ''),  # 54
    ('recvmmsg', '', ''),  # 55
    ('accept', 'O', 'flags:i4'),  # 56
    ('accept', 'O', 'fd:i8 tuple:T queuepct:u1'),  # 57
    ('creat', '', 'name:s mode:u4'),  # 58
    ('creat', '', 'fd:i8 name:s mode:u4 dev:u4'),  # 59
    ('pipe', '', ''),  # 60
    ('pipe', '', 'res:i8 fd1:i8 fd2:i8 ino:u8'),  # 61
    ('eventfd', '', 'initval:u8 flags:u4'),  # 62
    ('eventfd', '', 'res:i8'),  # 63
    ('futex', '', 'addr:u8 op:u2 val:u8'),  # 64
    ('futex', '', 'res:i8'),  # 65
    ('stat', '', ''),  # 66
    ('stat', '', 'res:i8 path:s'),  # 67
    ('lstat', '', ''),  # 68
    ('lstat', '', 'res:i8 path:s'),  # 69
    ('fstat', '', 'fd:i8'),  # 70
    ('fstat', '', 'res:i8'),  # 71
    ('stat64', '', ''),  # 72
    ('stat64', '', 'res:i8 path:s'),  # 73
    ('lstat64', '', ''),  # 74
    ('lstat64', '', 'res:i8 path:s'),  # 75
    ('fstat64', '', 'fd:i8'),  # 76
    ('fstat64', '', 'res:i8'),  # 77
    ('epoll_wait', '', 'maxevents:i8'),  # 78
    ('epoll_wait', '', 'res:i8'),  # 79
    ('poll', '', 'fds:L timeout:i8'),  # 80
    ('poll', '', 'res:i8 fds:L'),  # 81
    ('select', '', ''),  # 82
    ('select', '', 'res:i8'),  # 83
    ('select', '', ''),  # 84
    ('select', '', 'res:i8'),  # 85
    ('lseek', '', 'fd:i8 offset:u8 whence:u1'),  # 86
    ('lseek', '', 'res:i8'),  # 87
    ('llseek', '', 'fd:i8 offset:u8 whence:u1'),  # 88
    ('llseek', '', 'res:i8'),  # 89
    ('ioctl', 'O', 'fd:i8 request:u8'),  # 90
    ('ioctl', 'O', 'res:i8'),  # 91
    ('getcwd', '', ''),  # 92
    ('getcwd', '', 'res:i8 path:s'),  # 93
    ('chdir', '', ''),  # 94
    ('chdir', '', 'res:i8 path:s'),  # 95
    ('fchdir', '', 'fd:i8'),  # 96
    ('fchdir', '', 'res:i8'),  # 97
    ('mkdir', '', 'path:s mode:u4'),  # 98
    ('mkdir', '', 'res:i8'),  # 99
    ('rmdir', '', 'path:s'),  # 100
    ('rmdir', '', 'res:i8'),  # 101
    ('openat', 'O', 'dirfd:i8 name:s flags:u4 mode:u4'),  # 102
    ('openat', 'O', 'fd:i8'),  # 103
    ('link', 'O', 'oldpath:s newpath:s'),  # 104
    ('link', 'O', 'res:i8'),  # 105
    ('linkat', 'O', 'olddir:i8 oldpath:s newdir:i8 newpath:s'),  # 106
    ('linkat', 'O', 'res:i8'),  # 107
    ('unlink', 'O', 'path:s'),  # 108
    ('unlink', 'O', 'res:i8'),  # 109
    ('unlinkat', 'O', 'dirfd:i8 name:s'),  # 110
    ('unlinkat', 'O', 'res:i8'),  # 111
    ('pread', '', 'fd:i8 size:u4 pos:u8'),  # 112
    ('pread', '', 'res:i8 data:b'),  # 113
    ('pwrite', '', 'fd:i8 size:u4 pos:u8'),  # 114
    ('pwrite', '', 'res:i8 data:b'),  # 115
    ('readv', '', 'fd:i8'),  # 116
    ('readv', '', 'res:i8 size:u4 data:b'),  # 117
    ('writev', '', 'fd:i8 size:u4'),  # 118
    ('writev', '', 'res:i8 data:b'),  # 119
    ('preadv', '', 'fd:i8 pos:u8'),  # 120
    ('preadv', '', 'res:i8 size:u4 data:b'),  # 121
    ('pwritev', '', 'fd:i8 size:u4 pos:u8'),  # 122
    ('pwritev', '', 'res:i8 data:b'),  # 123
    ('dup', '', 'fd:i8'),  # 124
    ('dup', '', 'res:i8'),  # 125
    ('signalfd', '', 'fd:i8 mask:u4 flags:u1'),  # 126
    ('signalfd', '', 'res:i8'),  # 127
    ('kill', '', 'pid:i8 sig:u1'),  # 128
    ('kill', '', 'res:i8'),  # 129
    ('tkill', '', 'tid:i8 sig:u1'),  # 130
    ('tkill', '', 'res:i8'),  # 131
    ('tgkill', '', 'pid:i8 tid:i8 sig:u1'),  # 132
    ('tgkill', '', 'res:i8'),  # 133
    ('nanosleep', '', 'interval:u8'),  # 134
    ('nanosleep', '', 'res:i8'),  # 135
    ('timerfd_create', '', 'clockid:u1 flags:u1'),  # 136
    ('timerfd_create', '', 'res:i8'),  # 137
    ('inotify_init', '', 'flags:u1'),  # 138
    ('inotify_init', '', 'res:i8'),  # 139
    ('getrlimit', '', 'resource:u1'),  # 140
    ('getrlimit', '', 'res:i8 cur:i8 max:i8'),  # 141
    ('setrlimit', '', 'resource:u1'),  # 142
    ('setrlimit', '', 'res:i8 cur:i8 max:i8'),  # 143
    ('prlimit', '', 'pid:i8 resource:u1'),  # 144
    ('prlimit', '', 'res:i8 newcur:i8 newmax:i8 oldcur:i8 oldmax:i8'),  # 145
    ('switch', 'O', 'next:i8'),  # 146
    ('NA2', 'OU', ''),  # 147
    ('drop', '', 'ratio:u4'),  # 148
    ('drop', '', 'ratio:u4'),  # 149
    ('fcntl', '', 'fd:i8 cmd:u1'),  # 150
    ('fcntl', '', 'res:i8'),  # 151
    ('switch', '', 'next:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4'),  # 152
    ('NA2', 'U', ''),  # 153
    ('execve', 'O', ''),  # 154
    ('execve', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4'),  # 155
    ('clone', 'O', ''),  # 156
    ('clone', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 flags:u4 uid:u4 gid:u4'),  # 157
    ('brk', '', 'addr:u8'),  # 158
    ('brk', '', 'res:u8 vm_size:u4 vm_rss:u4 vm_swap:u4'),  # 159
    ('mmap', '', 'addr:u8 length:u8 prot:u4 flags:u4 fd:i8 offset:u8'),  # 160
    ('mmap', '', 'res:u8 vm_size:u4 vm_rss:u4 vm_swap:u4'),  # 161
    ('mmap2', '', 'addr:u8 length:u8 prot:u4 flags:u4 fd:i8 pgoffset:u8'),  # 162
    ('mmap2', '', 'res:u8 vm_size:u4 vm_rss:u4 vm_swap:u4'),  # 163
    ('munmap', '', 'addr:u8 length:u8'),  # 164
    ('munmap', '', 'res:i8 vm_size:u4 vm_rss:u4 vm_swap:u4'),  # 165
    ('splice', '', 'fd_in:i8 fd_out:i8 size:u8 flags:u4'),  # 166
    ('splice', '', 'res:i8'),  # 167
    ('ptrace', '', 'request:u2 pid:i8'),  # 168
    ('ptrace', '', 'res:i8 addr:d data:d'),  # 169
    ('ioctl', '', 'fd:i8 request:u8 argument:u8'),  # 170
    ('ioctl', '', 'res:i8'),  # 171
    ('execve', 'O', ''),  # 172
    ('execve', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 env:b'),  # 173
    ('rename', '', ''),  # 174
    ('rename', '', 'res:i8 oldpath:s newpath:s'),  # 175
    ('renameat', '', ''),  # 176
    ('renameat', '', 'res:i8 olddirfd:i8 oldpath:s newdirfd:i8 newpath:s'),  # 177
    ('symlink', '', ''),  # 178
    ('symlink', '', 'res:i8 target:s linkpath:s'),  # 179
    ('symlinkat', '', ''),  # 180
    ('symlinkat', '', 'res:i8 target:s linkdirfd:i8 linkpath:s'),  # 181
    ('fork', 'O', ''),  # 182
    ('fork', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 flags:u4 uid:u4 gid:u4'),  # 183
    ('vfork', 'O', ''),  # 184
    ('vfork', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 flags:u4 uid:u4 gid:u4'),  # 185
    ('procexit', '', 'status:i8 ret:i8 sig:u1 core:u1'),  # 186
    ('NA1', 'U', ''),  # 187
    ('sendfile', '', 'out_fd:i8 in_fd:i8 offset:u8 size:u8'),  # 188
    ('sendfile', '', 'res:i8 offset:u8'),  # 189
    ('quotactl', '', 'cmd:u2 type:u1 id:u4 quota_fmt:u1'),  # 190
    ('quotactl', '', 'res:i8 special:s quotafilepath:s dqb_bhardlimit:u8 dqb_bsoftlimit:u8 dqb_curspace:u8 dqb_ihardlimit:u8 dqb_isoftlimit:u8 dqb_btime:u8 dqb_itime:u8 dqi_bgrace:u8 dqi_igrace:u8 dqi_flags:u1 quota_fmt_out:u1'),  # 191
    ('setresuid', '', 'ruid:u4 euid:u4 suid:u4'),  # 192
    ('setresuid', '', 'res:i8'),  # 193
    ('setresgid', '', 'rgid:u4 egid:u4 sgid:u4'),  # 194
    ('setresgid', '', 'res:i8'),  # 195
    ('sysdigevent', '', 'event_type:u4 event_data:u8'),  # 196
    ('sysdigevent', 'U', ''),  # 197
    ('setuid', '', 'uid:u4'),  # 198
    ('setuid', '', 'res:i8'),  # 199
    ('setgid', '', 'gid:u4'),  # 200
    ('setgid', '', 'res:i8'),  # 201
    ('getuid', '', ''),  # 202
    ('getuid', '', 'uid:u4'),  # 203
    ('geteuid', '', ''),  # 204
    ('geteuid', '', 'euid:u4'),  # 205
    ('getgid', '', ''),  # 206
    ('getgid', '', 'gid:u4'),  # 207
    ('getegid', '', ''),  # 208
    ('getegid', '', 'egid:u4'),  # 209
    ('getresuid', '', ''),  # 210
    ('getresuid', '', 'res:i8 ruid:u4 euid:u4 suid:u4'),  # 211
    ('getresgid', '', ''),  # 212
    ('getresgid', '', 'res:i8 rgid:u4 egid:u4 sgid:u4'),  # 213
    ('execve', 'O', ''),  # 214
    ('execve', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s env:b'),  # 215
    ('clone', 'O', ''),  # 216
    ('clone', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s flags:u4 uid:u4 gid:u4'),  # 217
    ('fork', 'O', ''),  # 218
    ('fork', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s flags:u4 uid:u4 gid:u4'),  # 219
    ('vfork', 'O', ''),  # 220
    ('vfork', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s flags:u4 uid:u4 gid:u4'),  # 221
    ('clone', '', ''),  # 222
    ('clone', '', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b flags:u4 uid:u4 gid:u4 vtid:i8 vpid:i8'),  # 223
    ('fork', '', ''),  # 224
    ('fork', '', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b flags:u4 uid:u4 gid:u4 vtid:i8 vpid:i8'),  # 225
    ('vfork', '', ''),  # 226
    ('vfork', '', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b flags:u4 uid:u4 gid:u4 vtid:i8 vpid:i8'),  # 227
    ('container', 'O', 'id:s type:u4 name:s image:s'),  # 228
    ('container', 'OU', ''),  # 229
    ('execve', '', ''),  # 230
    ('execve', '', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b env:b'),  # 231
    ('signaldeliver', '', 'spid:i8 dpid:i8 sig:u1'),  # 232
    ('signaldeliver', 'U', ''),  # 233
    ('procinfo', '', 'cpu_usr:u8 cpu_sys:u8'),  # 234
    ('NA2', 'U', ''),  # 235
    ('getdents', '', 'fd:i8'),  # 236
    ('getdents', '', 'res:i8'),  # 237
    ('getdents64', '', 'fd:i8'),  # 238
    ('getdents64', '', 'res:i8'),  # 239
    ('setns', '', 'fd:i8 nstype:u4'),  # 240
    ('setns', '', 'res:i8'),  # 241
    ('flock', '', 'fd:i8 operation:u4'),  # 242
    ('flock', '', 'res:i8'),  # 243
    ('cpu_hotplug', '', 'cpu:u4 action:u4'),  # 244
    ('NA2', 'U', ''),  # 245
    ('accept', '', ''),  # 246
    ('accept', '', 'fd:i8 tuple:T queuepct:u1 queuelen:u4 queuemax:u4'),  # 247
    ('accept', '', 'flags:i4'),  # 248
    ('accept', '', 'fd:i8 tuple:T queuepct:u1 queuelen:u4 queuemax:u4'),  # 249
    ('semop', '', 'semid:i4'),  # 250
    ('semop', '', 'res:i8 nsops:u4 sem_num_0:u2 sem_op_0:i2 sem_flg_0:u2 sem_num_1:u2 sem_op_1:i2 sem_flg_1:u2'),  # 251
    ('semctl', '', 'semid:i4 semnum:i4 cmd:u2 val:i4'),  # 252
    ('semctl', '', 'res:i8'),  # 253
    ('ppoll', '', 'fds:L timeout:u8 sigmask:u4'),  # 254
    ('ppoll', '', 'res:i8 fds:L'),  # 255
    ('mount', '', 'flags:u4'),  # 256
    ('mount', '', 'res:i8 dev:s dir:s type:s'),  # 257
    ('umount', '', 'flags:u4'),  # 258
    ('umount', '', 'res:i8 name:s'),  # 259
    ('k8s', '', 'json:s'),  # 260
    ('NA3', 'U', ''),  # 261
    ('semget', '', 'key:i4 nsems:i4 semflg:u4'),  # 262
    ('semget', '', 'res:i8'),  # 263
    ('access', '', 'mode:u4'),  # 264
    ('access', '', 'res:i8 name:s'),  # 265
    ('chroot', '', ''),  # 266
    ('chroot', '', 'res:i8 path:s'),  # 267
    ('tracer', '', 'id:i8 tags:s args:s'),  # 268
    ('tracer', '', 'id:i8 tags:s args:s'),  # 269
    ('mesos', '', 'json:s'),  # 270
    ('NA4', 'U', ''),  # 271
    ('container', '', 'json:s'),  # 272
    ('container', 'U', ''),  # 273
    ('setsid', '', ''),  # 274
    ('setsid', '', 'res:i8'),  # 275
    ('mkdir', '', 'mode:u4'),  # 276
    ('mkdir', '', 'res:i8 path:s'),  # 277
    ('rmdir', '', ''),  # 278
    ('rmdir', '', 'res:i8 path:s'),  # 279
    ('notification', '', 'id:s desc:s'),  # 280
    ('NA4', 'U', ''),  # 281
    ('execve', 'O', ''),  # 282
    ('execve', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b env:b tty:i4'),  # 283
    ('unshare', '', 'flags:u4'),  # 284
    ('unshare', '', 'res:i8'),  # 285
    ('infra', '', 'source:s name:s description:s scope:s'),  # 286
    ('NA4', 'U', ''),  # 287
    ('execve', 'O', 'filename:s'),  # 288
    ('execve', 'O', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b env:b tty:i4'),  # 289
    ('page_fault', '', 'addr:u8 ip:u8 error:u4'),  # 290
    ('NA5', 'U', ''),  # 291
    ('execve', '', 'filename:s'),  # 292
    ('execve', '', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b env:b tty:i4 pgid:i8 loginuid:i4 flags:u4'),  # 293
    ('setpgid', '', 'pid:i8 pgid:i8'),  # 294
    ('setpgid', '', 'res:i8'),  # 295
    ('bpf', '', 'cmd:i8'),  # 296
    ('bpf', '', 'res_or_fd:d'),  # 297
    ('seccomp', '', 'op:u8'),  # 298
    ('seccomp', '', 'res:i8'),  # 299
    ('unlink', '', ''),  # 300
    ('unlink', '', 'res:i8 path:s'),  # 301
    ('unlinkat', '', ''),  # 302
    ('unlinkat', '', 'res:i8 dirfd:i8 name:s flags:u4'),  # 303
    ('mkdirat', '', ''),  # 304
    ('mkdirat', '', 'res:i8 dirfd:i8 path:s mode:u4'),  # 305
    ('openat', '', 'dirfd:i8 name:s flags:u4 mode:u4'),  # 306
    ('openat', '', 'fd:i8 dirfd:i8 name:s flags:u4 mode:u4 dev:u4'),  # 307
    ('link', '', ''),  # 308
    ('link', '', 'res:i8 oldpath:s newpath:s'),  # 309
    ('linkat', '', ''),  # 310
    ('linkat', '', 'res:i8 olddir:i8 oldpath:s newdir:i8 newpath:s flags:u4'),  # 311
    ('fchmodat', '', ''),  # 312
    ('fchmodat', '', 'res:i8 dirfd:i8 filename:s mode:u4'),  # 313
    ('chmod', '', ''),  # 314
    ('chmod', '', 'res:i8 filename:s mode:u4'),  # 315
    ('fchmod', '', ''),  # 316
    ('fchmod', '', 'res:i8 fd:i8 mode:u4'),  # 317
    ('renameat2', '', ''),  # 318
    ('renameat2', '', 'res:i8 olddirfd:i8 oldpath:s newdirfd:i8 newpath:s flags:u4'),  # 319
    ('userfaultfd', '', ''),  # 320
    ('userfaultfd', '', 'res:i8 flags:u4'),  # 321
    ('pluginevent', 'L', 'plugin_ID:u4 event_data:b'),  # 322
    ('pluginevent', 'U', ''),  # 323
    ('container', 'L', 'json:s'),  # 324
    ('container', 'U', ''),  # 325
    ('openat2', '', 'dirfd:i8 name:s flags:u4 mode:u4 resolve:u4'),  # 326
    ('openat2', '', 'fd:i8 dirfd:i8 name:s flags:u4 mode:u4 resolve:u4'),  # 327
    ('mprotect', '', 'addr:u8 length:u8 prot:u4'),  # 328
    ('mprotect', '', 'res:i8'),  # 329
    ('execveat', '', 'dirfd:i8 pathname:s flags:u4'),  # 330
    ('execveat', '', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:u8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b env:b tty:i4 pgid:i8 loginuid:i4 flags:u4'),  # 331
    ('copy_file_range', '', 'fdin:i8 offin:u8 len:u8'),  # 332
    ('copy_file_range', '', 'res:i8 fdout:i8 offout:u8'),  # 333
    ('clone3', '', ''),  # 334
    ('clone3', '', 'res:i8 exe:s args:b tid:i8 pid:i8 ptid:i8 cwd:s fdlimit:i8 pgft_maj:u8 pgft_min:u8 vm_size:u4 vm_rss:u4 vm_swap:u4 comm:s cgroups:b flags:u4 uid:u4 gid:u4 vtid:i8 vpid:i8'),  # 335
)
PPM_SC = {
    0: 'unknown',
    1: 'restart_syscall',
    2: 'exit',
    3: 'read',
    4: 'write',
    5: 'open',
    6: 'close',
    7: 'creat',
    8: 'link',
    9: 'unlink',
    10: 'chdir',
    11: 'time',
    12: 'mknod',
    13: 'chmod',
    14: 'stat',
    15: 'lseek',
    16: 'getpid',
    17: 'mount',
    18: 'ptrace',
    19: 'alarm',
    20: 'fstat',
    21: 'pause',
    22: 'utime',
    23: 'access',
    24: 'sync',
    25: 'kill',
    26: 'rename',
    27: 'mkdir',
    28: 'rmdir',
    29: 'dup',
    30: 'pipe',
    31: 'times',
    32: 'brk',
    33: 'acct',
    34: 'ioctl',
    35: 'fcntl',
    36: 'setpgid',
    37: 'umask',
    38: 'chroot',
    39: 'ustat',
    40: 'dup2',
    41: 'getppid',
    42: 'getpgrp',
    43: 'setsid',
    44: 'sethostname',
    45: 'setrlimit',
    46: 'getrusage',
    47: 'gettimeofday',
    48: 'settimeofday',
    49: 'symlink',
    50: 'lstat',
    51: 'readlink',
    52: 'uselib',
    53: 'swapon',
    54: 'reboot',
    55: 'mmap',
    56: 'munmap',
    57: 'truncate',
    58: 'ftruncate',
    59: 'fchmod',
    60: 'getpriority',
    61: 'setpriority',
    62: 'statfs',
    63: 'fstatfs',
    64: 'syslog',
    65: 'setitimer',
    66: 'getitimer',
    67: 'uname',
    68: 'vhangup',
    69: 'wait4',
    70: 'swapoff',
    71: 'sysinfo',
    72: 'fsync',
    73: 'setdomainname',
    74: 'adjtimex',
    75: 'mprotect',
    76: 'init_module',
    77: 'delete_module',
    78: 'quotactl',
    79: 'getpgid',
    80: 'fchdir',
    81: 'sysfs',
    82: 'personality',
    83: 'getdents',
    84: 'select',
    85: 'flock',
    86: 'msync',
    87: 'readv',
    88: 'writev',
    89: 'getsid',
    90: 'fdatasync',
    91: 'mlock',
    92: 'munlock',
    93: 'mlockall',
    94: 'munlockall',
    95: 'sched_setparam',
    96: 'sched_getparam',
    97: 'sched_setscheduler',
    98: 'sched_getscheduler',
    99: 'sched_yield',
    100: 'sched_get_priority_max',
    101: 'sched_get_priority_min',
    102: 'sched_rr_get_interval',
    103: 'nanosleep',
    104: 'mremap',
    105: 'poll',
    106: 'prctl',
    107: 'rt_sigaction',
    108: 'rt_sigprocmask',
    109: 'rt_sigpending',
    110: 'rt_sigtimedwait',
    111: 'rt_sigqueueinfo',
    112: 'rt_sigsuspend',
    113: 'getcwd',
    114: 'capget',
    115: 'capset',
    116: 'sendfile',
    117: 'getrlimit',
    118: 'lchown',
    119: 'getuid',
    120: 'getgid',
    121: 'geteuid',
    122: 'getegid',
    123: 'setreuid',
    124: 'setregid',
    125: 'getgroups',
    126: 'setgroups',
    127: 'fchown',
    128: 'setresuid',
    129: 'getresuid',
    130: 'setresgid',
    131: 'getresgid',
    132: 'chown',
    133: 'setuid',
    134: 'setgid',
    135: 'setfsuid',
    136: 'setfsgid',
    137: 'pivot_root',
    138: 'mincore',
    139: 'madvise',
    140: 'gettid',
    141: 'setxattr',
    142: 'lsetxattr',
    143: 'fsetxattr',
    144: 'getxattr',
    145: 'lgetxattr',
    146: 'fgetxattr',
    147: 'listxattr',
    148: 'llistxattr',
    149: 'flistxattr',
    150: 'removexattr',
    151: 'lremovexattr',
    152: 'fremovexattr',
    153: 'tkill',
    154: 'futex',
    155: 'sched_setaffinity',
    156: 'sched_getaffinity',
    157: 'set_thread_area',
    158: 'get_thread_area',
    159: 'io_setup',
    160: 'io_destroy',
    161: 'io_getevents',
    162: 'io_submit',
    163: 'io_cancel',
    164: 'exit_group',
    165: 'epoll_create',
    166: 'epoll_ctl',
    167: 'epoll_wait',
    168: 'remap_file_pages',
    169: 'set_tid_address',
    170: 'timer_create',
    171: 'timer_settime',
    172: 'timer_gettime',
    173: 'timer_getoverrun',
    174: 'timer_delete',
    175: 'clock_settime',
    176: 'clock_gettime',
    177: 'clock_getres',
    178: 'clock_nanosleep',
    179: 'tgkill',
    180: 'utimes',
    181: 'mq_open',
    182: 'mq_unlink',
    183: 'mq_timedsend',
    184: 'mq_timedreceive',
    185: 'mq_notify',
    186: 'mq_getsetattr',
    187: 'kexec_load',
    188: 'waitid',
    189: 'add_key',
    190: 'request_key',
    191: 'keyctl',
    192: 'ioprio_set',
    193: 'ioprio_get',
    194: 'inotify_init',
    195: 'inotify_add_watch',
    196: 'inotify_rm_watch',
    197: 'openat',
    198: 'mkdirat',
    199: 'mknodat',
    200: 'fchownat',
    201: 'futimesat',
    202: 'unlinkat',
    203: 'renameat',
    204: 'linkat',
    205: 'symlinkat',
    206: 'readlinkat',
    207: 'fchmodat',
    208: 'faccessat',
    209: 'pselect6',
    210: 'ppoll',
    211: 'unshare',
    212: 'set_robust_list',
    213: 'get_robust_list',
    214: 'splice',
    215: 'tee',
    216: 'vmsplice',
    217: 'getcpu',
    218: 'epoll_pwait',
    219: 'utimensat',
    220: 'signalfd',
    221: 'timerfd_create',
    222: 'eventfd',
    223: 'timerfd_settime',
    224: 'timerfd_gettime',
    225: 'signalfd4',
    226: 'eventfd2',
    227: 'epoll_create1',
    228: 'dup3',
    229: 'pipe2',
    230: 'inotify_init1',
    231: 'preadv',
    232: 'pwritev',
    233: 'rt_tgsigqueueinfo',
    234: 'perf_event_open',
    235: 'fanotify_init',
    236: 'prlimit64',
    237: 'clock_adjtime',
    238: 'syncfs',
    239: 'setns',
    240: 'getdents64',
    241: 'socket',
    242: 'bind',
    243: 'connect',
    244: 'listen',
    245: 'accept',
    246: 'getsockname',
    247: 'getpeername',
    248: 'socketpair',
    249: 'sendto',
    250: 'recvfrom',
    251: 'shutdown',
    252: 'setsockopt',
    253: 'getsockopt',
    254: 'sendmsg',
    255: 'sendmmsg',
    256: 'recvmsg',
    257: 'recvmmsg',
    258: 'accept4',
    259: 'semop',
    260: 'semget',
    261: 'semctl',
    262: 'msgsnd',
    263: 'msgrcv',
    264: 'msgget',
    265: 'msgctl',
    266: 'shmdt',
    267: 'shmget',
    268: 'shmctl',
    269: 'statfs64',
    270: 'fstatfs64',
    271: 'fstatat64',
    272: 'sendfile64',
    273: 'ugetrlimit',
    274: 'bdflush',
    275: 'sigprocmask',
    276: 'ipc',
    277: 'socketcall',
    278: 'stat64',
    279: 'lstat64',
    280: 'fstat64',
    281: 'fcntl64',
    282: 'mmap2',
    283: '_newselect',
    284: 'sgetmask',
    285: 'ssetmask',
    286: 'sigpending',
    287: 'olduname',
    288: 'umount',
    289: 'signal',
    290: 'nice',
    291: 'stime',
    292: '_llseek',
    293: 'waitpid',
    294: 'pread64',
    295: 'pwrite64',
    296: 'arch_prctl',
    297: 'shmat',
    298: 'sigreturn',
    299: 'fallocate',
    300: 'newfsstat',
    301: 'process_vm_readv',
    302: 'process_vm_writev',
    303: 'fork',
    304: 'vfork',
    305: 'setuid32',
    306: 'getuid32',
    307: 'setgid32',
    308: 'geteuid32',
    309: 'getgid32',
    310: 'setresuid32',
    311: 'setresgid32',
    312: 'getresuid32',
    313: 'getresgid32',
    314: 'finit_module',
    315: 'bpf',
    316: 'seccomp',
    317: 'sigaltstack',
    318: 'getrandom',
    319: 'fadvise64',
    320: 'renameat2',
    321: 'userfaultfd',
    322: 'openat2',
    323: 'umount2',
    324: 'execve',
    325: 'execveat',
    326: 'copy_file_range',
    327: 'clone',
    328: 'clone3',
    329: 'max',
}

# x86_64 syscall name -> the enter event id the drivers emit for it (syscall_table.c)
SYSCALL_EVENT = {
    '_llseek': 88,
    'accept': 246,
    'accept4': 248,
    'access': 264,
    'alarm': 0,
    'bind': 20,
    'bpf': 296,
    'brk': 158,
    'chdir': 94,
    'chmod': 314,
    'chroot': 266,
    'clone': 222,
    'clone3': 334,
    'close': 4,
    'connect': 22,
    'copy_file_range': 332,
    'creat': 58,
    'dup': 124,
    'dup2': 124,
    'dup3': 124,
    'epoll_create': 0,
    'epoll_ctl': 0,
    'epoll_wait': 78,
    'eventfd': 62,
    'eventfd2': 62,
    'execve': 292,
    'execveat': 330,
    'fchdir': 96,
    'fchmod': 316,
    'fchmodat': 312,
    'fcntl': 150,
    'fcntl64': 150,
    'flock': 242,
    'fork': 224,
    'fstat': 70,
    'fstat64': 76,
    'futex': 64,
    'getcwd': 92,
    'getdents': 236,
    'getdents64': 238,
    'getegid': 208,
    'getegid32': 208,
    'geteuid': 204,
    'geteuid32': 204,
    'getgid': 206,
    'getgid32': 206,
    'getpeername': 40,
    'getresgid': 212,
    'getresgid32': 212,
    'getresuid': 210,
    'getresuid32': 210,
    'getrlimit': 140,
    'getsockname': 38,
    'getsockopt': 46,
    'getuid': 202,
    'getuid32': 202,
    'inotify_init': 138,
    'inotify_init1': 138,
    'ioctl': 170,
    'kill': 128,
    'lchown': 0,
    'link': 308,
    'linkat': 310,
    'listen': 24,
    'lseek': 86,
    'lstat': 68,
    'mkdir': 276,
    'mkdirat': 304,
    'mmap': 160,
    'mmap2': 162,
    'mount': 256,
    'mprotect': 328,
    'munmap': 164,
    'nanosleep': 134,
    'open': 2,
    'openat': 306,
    'openat2': 326,
    'pause': 0,
    'pipe': 60,
    'pipe2': 60,
    'poll': 80,
    'ppoll': 254,
    'pread64': 112,
    'preadv': 120,
    'prlimit64': 144,
    'process_vm_readv': 0,
    'process_vm_writev': 0,
    'pselect6': 0,
    'ptrace': 168,
    'pwrite64': 114,
    'pwritev': 122,
    'quotactl': 190,
    'read': 6,
    'readv': 116,
    'recvfrom': 34,
    'recvmmsg': 54,
    'recvmsg': 52,
    'rename': 174,
    'renameat': 176,
    'renameat2': 318,
    'rmdir': 278,
    'sched_getparam': 0,
    'sched_setparam': 0,
    'seccomp': 298,
    'select': 82,
    'semctl': 252,
    'semget': 262,
    'semop': 250,
    'sendfile': 188,
    'sendfile64': 188,
    'sendmmsg': 50,
    'sendmsg': 48,
    'sendto': 30,
    'setgid': 200,
    'setgid32': 200,
    'setns': 240,
    'setpgid': 294,
    'setresgid': 194,
    'setresgid32': 194,
    'setresuid': 192,
    'setresuid32': 192,
    'setrlimit': 142,
    'setsid': 274,
    'setsockopt': 44,
    'setuid': 198,
    'setuid32': 198,
    'shutdown': 36,
    'signalfd': 126,
    'signalfd4': 126,
    'socket': 18,
    'socketpair': 42,
    'splice': 166,
    'stat': 66,
    'stat64': 72,
    'symlink': 178,
    'symlinkat': 180,
    'syslog': 0,
    'tgkill': 132,
    'timerfd_create': 136,
    'tkill': 130,
    'ugetrlimit': 140,
    'umount2': 258,
    'unlink': 300,
    'unlinkat': 302,
    'unshare': 284,
    'uselib': 0,
    'userfaultfd': 320,
    'utime': 0,
    'vfork': 226,
    'write': 8,
    'writev': 118,
}
# x86_64 syscall name -> its PPM_SC id (the ID parameter of the generic events)
SYSCALL_SC = {
    '_llseek': 292,
    '_newselect': 283,
    'accept': 245,
    'accept4': 258,
    'access': 23,
    'acct': 33,
    'add_key': 189,
    'adjtimex': 74,
    'alarm': 19,
    'arch_prctl': 296,
    'bdflush': 274,
    'bind': 242,
    'bpf': 315,
    'brk': 32,
    'capget': 114,
    'capset': 115,
    'chdir': 10,
    'chmod': 13,
    'chown': 132,
    'chroot': 38,
    'clock_adjtime': 237,
    'clock_getres': 177,
    'clock_gettime': 176,
    'clock_nanosleep': 178,
    'clock_settime': 175,
    'clone': 327,
    'clone3': 328,
    'close': 6,
    'connect': 243,
    'copy_file_range': 326,
    'creat': 7,
    'delete_module': 77,
    'dup': 29,
    'dup2': 40,
    'dup3': 228,
    'epoll_create': 165,
    'epoll_create1': 227,
    'epoll_ctl': 166,
    'epoll_pwait': 218,
    'epoll_wait': 167,
    'eventfd': 222,
    'eventfd2': 226,
    'execve': 324,
    'execveat': 325,
    'exit': 2,
    'exit_group': 164,
    'faccessat': 208,
    'fadvise64': 319,
    'fallocate': 299,
    'fanotify_init': 235,
    'fchdir': 80,
    'fchmod': 59,
    'fchmodat': 207,
    'fchown': 127,
    'fchownat': 200,
    'fcntl': 35,
    'fcntl64': 281,
    'fdatasync': 90,
    'fgetxattr': 146,
    'finit_module': 314,
    'flistxattr': 149,
    'flock': 85,
    'fork': 303,
    'fremovexattr': 152,
    'fsetxattr': 143,
    'fstat': 20,
    'fstat64': 280,
    'fstatat64': 271,
    'fstatfs': 63,
    'fstatfs64': 270,
    'fsync': 72,
    'ftruncate': 58,
    'futex': 154,
    'futimesat': 201,
    'get_robust_list': 213,
    'get_thread_area': 158,
    'getcpu': 217,
    'getcwd': 113,
    'getdents': 83,
    'getdents64': 240,
    'getegid': 122,
    'getegid32': 122,
    'geteuid': 121,
    'geteuid32': 121,
    'getgid': 120,
    'getgid32': 120,
    'getgroups': 125,
    'getitimer': 66,
    'getpeername': 247,
    'getpgid': 79,
    'getpgrp': 42,
    'getpid': 16,
    'getppid': 41,
    'getpriority': 60,
    'getrandom': 318,
    'getresgid': 131,
    'getresgid32': 313,
    'getresuid': 129,
    'getresuid32': 312,
    'getrlimit': 117,
    'getrusage': 46,
    'getsid': 89,
    'getsockname': 246,
    'getsockopt': 253,
    'gettid': 140,
    'gettimeofday': 47,
    'getuid': 119,
    'getuid32': 306,
    'getxattr': 144,
    'ia32__llseek': 292,
    'ia32__newselect': 283,
    'ia32_accept': 245,
    'ia32_accept4': 258,
    'ia32_access': 23,
    'ia32_acct': 33,
    'ia32_add_key': 189,
    'ia32_adjtimex': 74,
    'ia32_alarm': 19,
    'ia32_arch_prctl': 296,
    'ia32_bdflush': 274,
    'ia32_bind': 242,
    'ia32_bpf': 315,
    'ia32_brk': 32,
    'ia32_capget': 114,
    'ia32_capset': 115,
    'ia32_chdir': 10,
    'ia32_chmod': 13,
    'ia32_chown': 132,
    'ia32_chroot': 38,
    'ia32_clock_adjtime': 237,
    'ia32_clock_getres': 177,
    'ia32_clock_gettime': 176,
    'ia32_clock_nanosleep': 178,
    'ia32_clock_settime': 175,
    'ia32_clone': 327,
    'ia32_clone3': 328,
    'ia32_close': 6,
    'ia32_connect': 243,
    'ia32_copy_file_range': 326,
    'ia32_creat': 7,
    'ia32_delete_module': 77,
    'ia32_dup': 29,
    'ia32_dup2': 40,
    'ia32_dup3': 228,
    'ia32_epoll_create': 165,
    'ia32_epoll_create1': 227,
    'ia32_epoll_ctl': 166,
    'ia32_epoll_pwait': 218,
    'ia32_epoll_wait': 167,
    'ia32_eventfd': 222,
    'ia32_eventfd2': 226,
    'ia32_execve': 324,
    'ia32_execveat': 325,
    'ia32_exit': 2,
    'ia32_exit_group': 164,
    'ia32_faccessat': 208,
    'ia32_fadvise64': 319,
    'ia32_fallocate': 299,
    'ia32_fanotify_init': 235,
    'ia32_fchdir': 80,
    'ia32_fchmod': 59,
    'ia32_fchmodat': 207,
    'ia32_fchown': 127,
    'ia32_fchownat': 200,
    'ia32_fcntl': 35,
    'ia32_fcntl64': 281,
    'ia32_fdatasync': 90,
    'ia32_fgetxattr': 146,
    'ia32_finit_module': 314,
    'ia32_flistxattr': 149,
    'ia32_flock': 85,
    'ia32_fork': 303,
    'ia32_fremovexattr': 152,
    'ia32_fsetxattr': 143,
    'ia32_fstat': 20,
    'ia32_fstat64': 280,
    'ia32_fstatat64': 271,
    'ia32_fstatfs': 63,
    'ia32_fstatfs64': 270,
    'ia32_fsync': 72,
    'ia32_ftruncate': 58,
    'ia32_futex': 154,
    'ia32_futimesat': 201,
    'ia32_get_robust_list': 213,
    'ia32_get_thread_area': 158,
    'ia32_getcpu': 217,
    'ia32_getcwd': 113,
    'ia32_getdents': 83,
    'ia32_getdents64': 240,
    'ia32_getegid': 122,
    'ia32_getegid32': 122,
    'ia32_geteuid': 121,
    'ia32_geteuid32': 121,
    'ia32_getgid': 120,
    'ia32_getgid32': 120,
    'ia32_getgroups': 125,
    'ia32_getitimer': 66,
    'ia32_getpeername': 247,
    'ia32_getpgid': 79,
    'ia32_getpgrp': 42,
    'ia32_getpid': 16,
    'ia32_getppid': 41,
    'ia32_getpriority': 60,
    'ia32_getrandom': 318,
    'ia32_getresgid': 131,
    'ia32_getresgid32': 313,
    'ia32_getresuid': 129,
    'ia32_getresuid32': 312,
    'ia32_getrlimit': 117,
    'ia32_getrusage': 46,
    'ia32_getsid': 89,
    'ia32_getsockname': 246,
    'ia32_getsockopt': 253,
    'ia32_gettid': 140,
    'ia32_gettimeofday': 47,
    'ia32_getuid': 119,
    'ia32_getuid32': 306,
    'ia32_getxattr': 144,
    'ia32_init_module': 76,
    'ia32_inotify_add_watch': 195,
    'ia32_inotify_init': 194,
    'ia32_inotify_init1': 230,
    'ia32_inotify_rm_watch': 196,
    'ia32_io_cancel': 163,
    'ia32_io_destroy': 160,
    'ia32_io_getevents': 161,
    'ia32_io_setup': 159,
    'ia32_io_submit': 162,
    'ia32_ioctl': 34,
    'ia32_ioprio_get': 193,
    'ia32_ioprio_set': 192,
    'ia32_ipc': 276,
    'ia32_kexec_load': 187,
    'ia32_keyctl': 191,
    'ia32_kill': 25,
    'ia32_lchown': 118,
    'ia32_lgetxattr': 145,
    'ia32_link': 8,
    'ia32_linkat': 204,
    'ia32_listen': 244,
    'ia32_listxattr': 147,
    'ia32_llistxattr': 148,
    'ia32_lremovexattr': 151,
    'ia32_lseek': 15,
    'ia32_lsetxattr': 142,
    'ia32_lstat': 50,
    'ia32_lstat64': 279,
    'ia32_madvise': 139,
    'ia32_mincore': 138,
    'ia32_mkdir': 27,
    'ia32_mkdirat': 198,
    'ia32_mknod': 12,
    'ia32_mknodat': 199,
    'ia32_mlock': 91,
    'ia32_mlockall': 93,
    'ia32_mmap': 55,
    'ia32_mmap2': 282,
    'ia32_mount': 17,
    'ia32_mprotect': 75,
    'ia32_mq_getsetattr': 186,
    'ia32_mq_notify': 185,
    'ia32_mq_open': 181,
    'ia32_mq_timedreceive': 184,
    'ia32_mq_timedsend': 183,
    'ia32_mq_unlink': 182,
    'ia32_mremap': 104,
    'ia32_msgctl': 265,
    'ia32_msgget': 264,
    'ia32_msgrcv': 263,
    'ia32_msgsnd': 262,
    'ia32_msync': 86,
    'ia32_munlock': 92,
    'ia32_munlockall': 94,
    'ia32_munmap': 56,
    'ia32_nanosleep': 103,
    'ia32_newfstatat': 300,
    'ia32_nice': 290,
    'ia32_olduname': 287,
    'ia32_open': 5,
    'ia32_openat': 197,
    'ia32_openat2': 322,
    'ia32_pause': 21,
    'ia32_perf_event_open': 234,
    'ia32_personality': 82,
    'ia32_pipe': 30,
    'ia32_pipe2': 229,
    'ia32_pivot_root': 137,
    'ia32_poll': 105,
    'ia32_ppoll': 210,
    'ia32_prctl': 106,
    'ia32_pread64': 294,
    'ia32_preadv': 231,
    'ia32_prlimit64': 236,
    'ia32_process_vm_readv': 301,
    'ia32_process_vm_writev': 302,
    'ia32_pselect6': 209,
    'ia32_ptrace': 18,
    'ia32_pwrite64': 295,
    'ia32_pwritev': 232,
    'ia32_quotactl': 78,
    'ia32_read': 3,
    'ia32_readlink': 51,
    'ia32_readlinkat': 206,
    'ia32_readv': 87,
    'ia32_reboot': 54,
    'ia32_recvfrom': 250,
    'ia32_recvmmsg': 257,
    'ia32_recvmsg': 256,
    'ia32_remap_file_pages': 168,
    'ia32_removexattr': 150,
    'ia32_rename': 26,
    'ia32_renameat': 203,
    'ia32_renameat2': 320,
    'ia32_request_key': 190,
    'ia32_restart_syscall': 1,
    'ia32_rmdir': 28,
    'ia32_rt_sigaction': 107,
    'ia32_rt_sigpending': 109,
    'ia32_rt_sigprocmask': 108,
    'ia32_rt_sigqueueinfo': 111,
    'ia32_rt_sigreturn': 298,
    'ia32_rt_sigsuspend': 112,
    'ia32_rt_sigtimedwait': 110,
    'ia32_rt_tgsigqueueinfo': 233,
    'ia32_sched_get_priority_max': 100,
    'ia32_sched_get_priority_min': 101,
    'ia32_sched_getaffinity': 156,
    'ia32_sched_getparam': 96,
    'ia32_sched_getscheduler': 98,
    'ia32_sched_rr_get_interval': 102,
    'ia32_sched_setaffinity': 155,
    'ia32_sched_setparam': 95,
    'ia32_sched_setscheduler': 97,
    'ia32_sched_yield': 99,
    'ia32_seccomp': 316,
    'ia32_select': 84,
    'ia32_semctl': 261,
    'ia32_semget': 260,
    'ia32_semop': 259,
    'ia32_sendfile': 116,
    'ia32_sendfile64': 272,
    'ia32_sendmmsg': 255,
    'ia32_sendmsg': 254,
    'ia32_sendto': 249,
    'ia32_set_robust_list': 212,
    'ia32_set_thread_area': 157,
    'ia32_set_tid_address': 169,
    'ia32_setdomainname': 73,
    'ia32_setfsgid': 136,
    'ia32_setfsuid': 135,
    'ia32_setgid': 134,
    'ia32_setgid32': 307,
    'ia32_setgroups': 126,
    'ia32_sethostname': 44,
    'ia32_setitimer': 65,
    'ia32_setns': 239,
    'ia32_setpgid': 36,
    'ia32_setpriority': 61,
    'ia32_setregid': 124,
    'ia32_setresgid': 130,
    'ia32_setresgid32': 130,
    'ia32_setresuid': 128,
    'ia32_setresuid32': 128,
    'ia32_setreuid': 123,
    'ia32_setrlimit': 45,
    'ia32_setsid': 43,
    'ia32_setsockopt': 252,
    'ia32_settimeofday': 48,
    'ia32_setuid': 133,
    'ia32_setuid32': 305,
    'ia32_setxattr': 141,
    'ia32_sgetmask': 284,
    'ia32_shmat': 297,
    'ia32_shmctl': 268,
    'ia32_shmdt': 266,
    'ia32_shmget': 267,
    'ia32_shutdown': 251,
    'ia32_sigaltstack': 317,
    'ia32_signal': 289,
    'ia32_signalfd': 220,
    'ia32_signalfd4': 225,
    'ia32_sigpending': 286,
    'ia32_sigprocmask': 275,
    'ia32_socket': 241,
    'ia32_socketcall': 277,
    'ia32_socketpair': 248,
    'ia32_splice': 214,
    'ia32_ssetmask': 285,
    'ia32_stat': 14,
    'ia32_stat64': 278,
    'ia32_statfs': 62,
    'ia32_statfs64': 269,
    'ia32_stime': 291,
    'ia32_swapoff': 70,
    'ia32_swapon': 53,
    'ia32_symlink': 49,
    'ia32_symlinkat': 205,
    'ia32_sync': 24,
    'ia32_syncfs': 238,
    'ia32_sysfs': 81,
    'ia32_sysinfo': 71,
    'ia32_syslog': 64,
    'ia32_tee': 215,
    'ia32_tgkill': 179,
    'ia32_time': 11,
    'ia32_timer_create': 170,
    'ia32_timer_delete': 174,
    'ia32_timer_getoverrun': 173,
    'ia32_timer_gettime': 172,
    'ia32_timer_settime': 171,
    'ia32_timerfd_create': 221,
    'ia32_timerfd_gettime': 224,
    'ia32_timerfd_settime': 223,
    'ia32_times': 31,
    'ia32_tkill': 153,
    'ia32_truncate': 57,
    'ia32_ugetrlimit': 273,
    'ia32_umask': 37,
    'ia32_umount': 288,
    'ia32_umount2': 323,
    'ia32_uname': 67,
    'ia32_unlink': 9,
    'ia32_unlinkat': 202,
    'ia32_unshare': 211,
    'ia32_uselib': 52,
    'ia32_userfaultfd': 321,
    'ia32_ustat': 39,
    'ia32_utime': 22,
    'ia32_utimensat': 219,
    'ia32_utimes': 180,
    'ia32_vfork': 304,
    'ia32_vhangup': 68,
    'ia32_vmsplice': 216,
    'ia32_wait4': 69,
    'ia32_waitid': 188,
    'ia32_waitpid': 293,
    'ia32_write': 4,
    'ia32_writev': 88,
    'init_module': 76,
    'inotify_add_watch': 195,
    'inotify_init': 194,
    'inotify_init1': 230,
    'inotify_rm_watch': 196,
    'io_cancel': 163,
    'io_destroy': 160,
    'io_getevents': 161,
    'io_setup': 159,
    'io_submit': 162,
    'ioctl': 34,
    'ioprio_get': 193,
    'ioprio_set': 192,
    'ipc': 276,
    'kexec_load': 187,
    'keyctl': 191,
    'kill': 25,
    'lchown': 118,
    'lgetxattr': 145,
    'link': 8,
    'linkat': 204,
    'listen': 244,
    'listxattr': 147,
    'llistxattr': 148,
    'lremovexattr': 151,
    'lseek': 15,
    'lsetxattr': 142,
    'lstat': 50,
    'lstat64': 279,
    'madvise': 139,
    'mincore': 138,
    'mkdir': 27,
    'mkdirat': 198,
    'mknod': 12,
    'mknodat': 199,
    'mlock': 91,
    'mlockall': 93,
    'mmap': 55,
    'mmap2': 282,
    'mount': 17,
    'mprotect': 75,
    'mq_getsetattr': 186,
    'mq_notify': 185,
    'mq_open': 181,
    'mq_timedreceive': 184,
    'mq_timedsend': 183,
    'mq_unlink': 182,
    'mremap': 104,
    'msgctl': 265,
    'msgget': 264,
    'msgrcv': 263,
    'msgsnd': 262,
    'msync': 86,
    'munlock': 92,
    'munlockall': 94,
    'munmap': 56,
    'nanosleep': 103,
    'newfstatat': 300,
    'nice': 290,
    'olduname': 287,
    'open': 5,
    'openat': 197,
    'openat2': 322,
    'pause': 21,
    'perf_event_open': 234,
    'personality': 82,
    'pipe': 30,
    'pipe2': 229,
    'pivot_root': 137,
    'poll': 105,
    'ppoll': 210,
    'prctl': 106,
    'pread64': 294,
    'preadv': 231,
    'prlimit64': 236,
    'process_vm_readv': 301,
    'process_vm_writev': 302,
    'pselect6': 209,
    'ptrace': 18,
    'pwrite64': 295,
    'pwritev': 232,
    'quotactl': 78,
    'read': 3,
    'readlink': 51,
    'readlinkat': 206,
    'readv': 87,
    'reboot': 54,
    'recvfrom': 250,
    'recvmmsg': 257,
    'recvmsg': 256,
    'remap_file_pages': 168,
    'removexattr': 150,
    'rename': 26,
    'renameat': 203,
    'renameat2': 320,
    'request_key': 190,
    'restart_syscall': 1,
    'rmdir': 28,
    'rt_sigaction': 107,
    'rt_sigpending': 109,
    'rt_sigprocmask': 108,
    'rt_sigqueueinfo': 111,
    'rt_sigreturn': 298,
    'rt_sigsuspend': 112,
    'rt_sigtimedwait': 110,
    'rt_tgsigqueueinfo': 233,
    'sched_get_priority_max': 100,
    'sched_get_priority_min': 101,
    'sched_getaffinity': 156,
    'sched_getparam': 96,
    'sched_getscheduler': 98,
    'sched_rr_get_interval': 102,
    'sched_setaffinity': 155,
    'sched_setparam': 95,
    'sched_setscheduler': 97,
    'sched_yield': 99,
    'seccomp': 316,
    'select': 84,
    'semctl': 261,
    'semget': 260,
    'semop': 259,
    'sendfile': 116,
    'sendfile64': 272,
    'sendmmsg': 255,
    'sendmsg': 254,
    'sendto': 249,
    'set_robust_list': 212,
    'set_thread_area': 157,
    'set_tid_address': 169,
    'setdomainname': 73,
    'setfsgid': 136,
    'setfsuid': 135,
    'setgid': 134,
    'setgid32': 307,
    'setgroups': 126,
    'sethostname': 44,
    'setitimer': 65,
    'setns': 239,
    'setpgid': 36,
    'setpriority': 61,
    'setregid': 124,
    'setresgid': 130,
    'setresgid32': 130,
    'setresuid': 128,
    'setresuid32': 128,
    'setreuid': 123,
    'setrlimit': 45,
    'setsid': 43,
    'setsockopt': 252,
    'settimeofday': 48,
    'setuid': 133,
    'setuid32': 305,
    'setxattr': 141,
    'sgetmask': 284,
    'shmat': 297,
    'shmctl': 268,
    'shmdt': 266,
    'shmget': 267,
    'shutdown': 251,
    'sigaltstack': 317,
    'signal': 289,
    'signalfd': 220,
    'signalfd4': 225,
    'sigpending': 286,
    'sigprocmask': 275,
    'socket': 241,
    'socketcall': 277,
    'socketpair': 248,
    'splice': 214,
    'ssetmask': 285,
    'stat': 14,
    'stat64': 278,
    'statfs': 62,
    'statfs64': 269,
    'stime': 291,
    'swapoff': 70,
    'swapon': 53,
    'symlink': 49,
    'symlinkat': 205,
    'sync': 24,
    'syncfs': 238,
    'sysfs': 81,
    'sysinfo': 71,
    'syslog': 64,
    'tee': 215,
    'tgkill': 179,
    'time': 11,
    'timer_create': 170,
    'timer_delete': 174,
    'timer_getoverrun': 173,
    'timer_gettime': 172,
    'timer_settime': 171,
    'timerfd_create': 221,
    'timerfd_gettime': 224,
    'timerfd_settime': 223,
    'times': 31,
    'tkill': 153,
    'truncate': 57,
    'ugetrlimit': 273,
    'umask': 37,
    'umount': 288,
    'umount2': 323,
    'uname': 67,
    'unlink': 9,
    'unlinkat': 202,
    'unshare': 211,
    'uselib': 52,
    'userfaultfd': 321,
    'ustat': 39,
    'utime': 22,
    'utimensat': 219,
    'utimes': 180,
    'vfork': 304,
    'vhangup': 68,
    'vmsplice': 216,
    'wait4': 69,
    'waitid': 188,
    'waitpid': 293,
    'write': 4,
    'writev': 88,
}

PPM_EVENT_MAX = len(EVENTS)

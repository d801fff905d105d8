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
PPM_EVENT_MAX = len(EVENTS)

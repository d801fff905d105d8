#!/usr/bin/env bash
# Idempotent host set-up for cdig: apt packages, kernel headers for bcc,
# tracefs/debugfs, and a venv that sees Debian's bcc. Safe to run every time;
# each step checks before it acts. Must run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
log() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: must run as root (BPF, apt and mounts need it); try: sudo $0" >&2
    exit 1
fi

arch=$(dpkg --print-architecture)
# bcc from Debian (no bcc on PyPI), headers it compiles against, the container
# runtimes the integration tests use (podman, runc, docker, containerd, LXC,
# systemd-nspawn), and reference tools the benchmarks compare to.
pkgs=(bpfcc-tools python3-bpfcc libbpfcc "linux-headers-$arch" python3-venv
      runc podman busybox-static bpftrace tmux strace iproute2 procps
      uidmap slirp4netns prometheus gcc sysdig mmdebstrap
      docker.io containerd lxc systemd-container)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bcc looks for headers at /lib/modules/$(uname -r)/{build,source}. Debian splits
# them into -<arch> and -common directories; link the newest installed pair
# unless this kernel already has working headers.
kver=$(uname -r)
mod="/lib/modules/$kver"
if [ ! -e "$mod/build/include" ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-"$arch" 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$hdr" ]; then
        echo "setup: no kernel headers found under /usr/src (linux-headers-$arch)" >&2
        exit 1
    fi
    common="${hdr%-"$arch"}-common"
    mkdir -p "$mod"
    ln -sfn "$hdr" "$mod/build"
    [ -d "$common" ] && ln -sfn "$common" "$mod/source"
    log "linked $mod/build -> $hdr"
fi

# bcc needs tracefs (tracepoint ids) and debugfs.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug

# The venv must be made from Debian's python3 with system site-packages:
# that is where python3-bpfcc puts the `bcc` module.
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import bcc' 2>/dev/null; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
stamp="$venv/.cdig-installed"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing cdig into $venv"
    # pip's own chatter goes to a log; shown only if the install fails
    if ! "$venv/bin/pip" install -q -e ".[test]" > "$venv/pip.log" 2>&1; then
        cat "$venv/pip.log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
# cdig's own modules compiled to byte code here: with PYTHONDONTWRITEBYTECODE set (as
# on these machines) Python never writes it, so every start compiled ~150 modules again
# (`cdig trace -r` of a 345-event .scap: 0.19 -> 0.12 s). compileall skips what is up
# to date, and Python does not use a .pyc whose source changed since.
"$venv/bin/python" -m compileall -q -j 0 cdig collector probes tui exporters > /dev/null

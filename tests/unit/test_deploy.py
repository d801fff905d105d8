"""deploy/: the manifests parse, name only metrics the exporter has, and every
PromQL expression of the dashboard is valid (``promtool check rules``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "exporter" / "exposition.prom"
EXPORTED = set(re.findall(r"^# TYPE (\S+)", GOLDEN.read_text(), re.M)) | {
    "cdig_container_cpu_usage_seconds_total", "cdig_container_cpu_periods_total",
    "cdig_container_cpu_throttled_periods_total", "cdig_container_memory_usage_bytes",
    "cdig_container_memory_limit_bytes", "cdig_container_io_bytes_total",
    "cdig_container_pids", "cdig_container_pids_limit"}


def _exprs() -> list[str]:
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    out = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(out) > 15
    return out


def _concrete(expr: str) -> str:
    return (expr.replace("$__rate_interval", "5m").replace("$instance", ".*")
            .replace("$container", ".*"))


def test_manifests_parse():
    docs = list(yaml.safe_load_all((DEPLOY / "daemonset.yaml").read_text()))
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"] is True
    ctr = spec["containers"][0]
    caps = ctr["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"] and {"BPF", "PERFMON"} <= set(caps["add"])
    mounts = {m["mountPath"] for m in ctr["volumeMounts"]}
    assert {"/sys/kernel/tracing", "/lib/modules", "/usr/src"} <= mounts
    # every host path and the secret read-only; the one writable mount is a small in-memory /tmp
    # (bcc's loader writes a temp file; the root filesystem is read-only)
    volumes = {v["name"]: v for v in spec["volumes"]}
    writable = [m for m in ctr["volumeMounts"] if not m.get("readOnly")]
    assert [m["mountPath"] for m in writable] == ["/tmp"]
    assert volumes[writable[0]["name"]] == {"name": "tmp", "emptyDir": {"medium": "Memory",
                                                                        "sizeLimit": "16Mi"}}
    assert all({"hostPath", "secret"} & set(volumes[m["name"]]) for m in ctr["volumeMounts"]
               if m.get("readOnly"))
    scrape = yaml.safe_load((DEPLOY / "prometheus-scrape.yml").read_text())
    assert {j["job_name"] for j in scrape["scrape_configs"]} == {"cdig", "cdig-local"}


def test_dashboard_uses_exported_metrics():
    for expr in _exprs():
        for name in re.findall(r"\b(cdig_\w+)", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in EXPORTED or base in EXPORTED, (name, expr)


def test_dashboard_promql_is_valid(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool not installed (CI=true: a missing tool is a failure)")
        pytest.skip("promtool not installed")
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"cdig:dashboard:{i}", "expr": _concrete(e)}
        for i, e in enumerate(_exprs())]}]}
    f = tmp_path / "rules.yml"
    f.write_text(yaml.safe_dump(rules))
    r = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr

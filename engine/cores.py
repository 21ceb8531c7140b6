"""How many CPU cores this process may really use: its affinity mask, capped by a container's
CPU quota (cgroup v2 ``cpu.max``, cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``).

``os.cpu_count()`` and even ``os.sched_getaffinity`` report the host's cores inside a container
limited with ``--cpus``; sizing thread pools by them oversubscribes the quota and throttles the
process. This is the one helper for torch threads, ``analyze --jobs`` and the bots' decode pool.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")
                 ) -> int:
    """Cores in the affinity mask, capped by the cgroup CPU quota (rounded up); at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = quota_cores(cgroup_root, proc_cgroup)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota - 1e-9)))
    return max(1, cores)


def quota_cores(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")
                ) -> float | None:
    """The CPU quota in cores (``1.5`` for ``--cpus 1.5``), or ``None`` when there is none."""
    for folder in _candidates(cgroup_root, proc_cgroup):
        found = _v2(folder / "cpu.max")
        if found is None:
            found = _v1(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us")
        if found is not None:
            return found
    return None


def _candidates(root: Path, proc_cgroup: Path) -> list[Path]:
    """The process's own cgroup folders (from /proc/self/cgroup), then the mount roots."""
    folders: list[Path] = []
    try:
        lines = proc_cgroup.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, rel = parts[1], parts[2].lstrip("/")
        if controllers == "":  # v2 unified hierarchy
            folders.append(root / rel)
        elif "cpu" in controllers.split(","):
            for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                folders.append(root / mount / rel)
    folders += [root, root / "cpu", root / "cpu,cpuacct"]
    return [f for f in dict.fromkeys(folders) if f.is_dir()]


def _v2(path: Path) -> float | None:
    """``cpu.max``: ``"max 100000"`` (no limit) or ``"150000 100000"`` (1.5 cores)."""
    try:
        fields = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _ratio(fields[0], fields[1])


def _v1(quota_path: Path, period_path: Path) -> float | None:
    """``cpu.cfs_quota_us`` is ``-1`` without a limit."""
    try:
        quota = quota_path.read_text(encoding="ascii").strip()
        period = period_path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    if q <= 0 or p <= 0:
        return None
    return q / p

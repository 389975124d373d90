"""How many CPUs this process may really use: its affinity mask, lowered to its cgroup CPU quota.

A container limited to two CPUs' worth of time (cgroup v2 ``cpu.max``, or v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``) often still sees every core of the host in its
affinity mask; a thread per visible core would then only queue for the two it really gets.
"""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"
PROC_SELF_CGROUP = "/proc/self/cgroup"


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask (or CPU count), lowered to its CPU quota if it has one."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota()
    return max(1, cpus if quota is None else min(cpus, quota))


def cpu_quota(cgroup_root: str = CGROUP_ROOT, proc_cgroup: str = PROC_SELF_CGROUP) -> int | None:
    """Whole CPUs' worth of time this process's cgroups allow (rounded up), or ``None`` for no limit.

    Looks at the process's own cgroup and every parent up to the root; the tightest limit wins.
    """
    root = Path(cgroup_root)
    try:
        memberships = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in memberships:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        controllers, path = fields[1], fields[2].lstrip("/")
        if controllers == "":  # cgroup v2: one unified hierarchy
            base = root
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's own hierarchy
            base = next((root / name for name in ("cpu,cpuacct", "cpu") if (root / name).is_dir()), root)
        else:
            continue
        folder = base / path
        while True:
            limit = _folder_quota(folder)
            if limit is not None:
                limits.append(limit)
            if folder == base or folder.parent == folder:
                break
            folder = folder.parent
    return min(limits) if limits else None


def _folder_quota(folder: Path) -> int | None:
    """The CPU limit one cgroup folder sets, in whole CPUs rounded up; ``None`` where it sets none."""
    try:
        if (folder / "cpu.max").is_file():
            quota_text, period_text = (folder / "cpu.max").read_text().split()[:2]
        else:
            quota_text = (folder / "cpu.cfs_quota_us").read_text().strip()
            period_text = (folder / "cpu.cfs_period_us").read_text().strip()
        if quota_text in ("max", "-1"):
            return None
        quota, period = int(quota_text), int(period_text)
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return -(-quota // period)

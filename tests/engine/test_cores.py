"""The usable-cores helper reads cgroup v2 and v1 CPU quotas and the affinity mask."""

from __future__ import annotations

import os
from pathlib import Path

from engine import cores

AFFINITY = len(os.sched_getaffinity(0))


def cgroup_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "self_cgroup"
    path.write_text(text)
    return path


def test_v2_quota_in_the_process_cgroup_is_rounded_up(tmp_path):
    (tmp_path / "docker" / "abc").mkdir(parents=True)
    (tmp_path / "docker" / "abc" / "cpu.max").write_text("150000 100000\n")
    proc = cgroup_file(tmp_path, "0::/docker/abc\n")
    assert 1.5 == cores.quota_cores(tmp_path, proc)
    assert min(AFFINITY, 2) == cores.usable_cores(tmp_path, proc)


def test_v2_without_a_limit_counts_the_affinity_mask(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    proc = cgroup_file(tmp_path, "0::/\n")
    assert None is cores.quota_cores(tmp_path, proc)
    assert AFFINITY == cores.usable_cores(tmp_path, proc)


def test_v1_quota_and_unlimited(tmp_path):
    folder = tmp_path / "cpu,cpuacct" / "kubepods" / "pod1"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("50000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    proc = cgroup_file(tmp_path, "4:cpu,cpuacct:/kubepods/pod1\n3:memory:/kubepods/pod1\n")
    assert 0.5 == cores.quota_cores(tmp_path, proc)
    assert 1 == cores.usable_cores(tmp_path, proc)
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert None is cores.quota_cores(tmp_path, proc)


def test_missing_or_garbled_files_mean_no_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("garbage\n")
    assert None is cores.quota_cores(tmp_path, tmp_path / "no_such_file")
    assert AFFINITY == cores.usable_cores(tmp_path / "absent", tmp_path / "no_such_file")


def test_this_machine_gives_at_least_one_core():
    assert 1 <= cores.usable_cores() <= AFFINITY

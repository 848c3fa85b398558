"""Real small and read-only file systems (tmpfs mounts; the suite runs as root)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str = "4m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` mounted at ``path``; unmounted (lazily) afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path, *, leave_bytes: int = 0) -> Path:
    """Fill the file system of ``path`` with a file until at most ``leave_bytes`` are free."""
    filler = path / "filler"
    stats = os.statvfs(path)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            f.write(b"\0" * max(0, free - leave_bytes))

        if leave_bytes == 0:
            try:  # top up the last partial page
                while True:
                    f.write(b"\0" * 4096)

            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def read_only(path: Path) -> None:
    """Remount ``path``'s tmpfs read-only (in place: open handles stay, writes fail with EROFS)."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def leftovers(root: Path) -> list[str]:
    """Every file under ``root`` except the filler, as relative paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "filler")

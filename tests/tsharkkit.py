"""tshark as a test oracle: strict settings, exit code always checked (shared/domain/packet-traces.md §5)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

STRICT = ["-o", "sctp.checksum:crc-32c", "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
          "-o", "udp.check_checksum:TRUE"]
S6A = "diameter.applicationId == 16777251"


def tshark(path: Path, *args: str) -> str:
    """Run tshark on ``path`` with the strict settings; fail the test on a non-zero exit code."""
    exe = shutil.which("tshark")
    if exe is None:
        pytest.fail("tshark is not installed: `make test` installs it (apt-get install tshark)")
    proc = subprocess.run([exe, "-r", str(path), *STRICT, *args], capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0, f"tshark {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


def fields(path: Path, names: list[str], *, display: str | None = None, two_pass: bool = False,
           extra: tuple[str, ...] = ()) -> list[list[str]]:
    args = [*extra, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for n in names:
        args += ["-e", n]
    if display:
        args += ["-Y", display]
    if two_pass:
        args.insert(0, "-2")
    out = tshark(path, *args)
    return [line.split("\t") for line in out.splitlines()]


def assert_clean(path: Path, expect: str = S6A) -> None:
    """No malformed packet, no expert warning or error (comments are expert "Comment" items, below warning),
    and some packet matches ``expect`` (S6a by default)."""
    out = tshark(path, "-Y", "_ws.malformed || _ws.expert.severity >= warning")
    assert out == "", out[:2000]
    assert tshark(path, "-Y", expect, "-T", "fields", "-e", "frame.number"), f"no packet matches {expect!r}"

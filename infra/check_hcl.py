"""Parse every Terraform file under the given folders with python-hcl2; exit 1 on any error.

Usage: python infra/check_hcl.py [DIR ...]   (default: infra/terraform)

There is no terraform binary in CI, so this is the syntax check; checkov (make iac-check)
then judges the configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hcl2


def check(dirs: list[Path]) -> int:
    files = sorted(f for d in dirs for f in d.rglob("*.tf") if ".terraform" not in f.parts)
    if not files:
        print(f"error: no .tf files under {', '.join(map(str, dirs))}", file=sys.stderr)
        return 1
    bad = 0
    for f in files:
        try:
            with f.open(encoding="utf-8") as fh:
                hcl2.load(fh)
        except Exception as exc:  # the parser raises several lark and hcl2 exception types
            bad += 1
            print(f"{f}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"hcl2: parsed {len(files) - bad} of {len(files)} .tf files")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    dirs = [Path(a) for a in argv] or [Path("infra/terraform")]
    missing = [d for d in dirs if not d.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    return check(dirs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Summarise a `detect-secrets scan` JSON report; exit 1 if it found anything.

python scripts/secrets-report.py REPORT.json
"""

import json
import sys


def main(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        results = json.load(fh)["results"]
    for filename, hits in sorted(results.items()):
        for hit in hits:
            print(f"{filename}:{hit['line_number']}: {hit['type']}", file=sys.stderr)
    if results:
        print(
            "detect-secrets: possible secrets above; remove them, or mark a false positive "
            "with a '# pragma: allowlist secret' comment",
            file=sys.stderr,
        )
        return 1
    print(f"detect-secrets: nothing found ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

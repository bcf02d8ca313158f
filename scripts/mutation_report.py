"""Per-module summary of the last ``mutmut run`` (``make mutate`` prints it at the end).

Reads ``mutants/**/*.py.meta`` (mutmut 3 keeps each mutant's exit code there) and prints, per mutated
module: mutants, killed, survived, timeouts, no tests; then every survivor's name, which
``mutmut show NAME`` (run from the project root) turns into the diff of that one-line bug.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code


def main() -> int:
    root = Path("mutants")
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print("no mutation results: run `make mutate` first", file=sys.stderr)
        return 1
    survivors: dict[str, list[str]] = {}
    rows = []
    for meta in metas:
        module = str(meta.relative_to(root))[: -len(".meta")]
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        counts = Counter(status_by_exit_code[code] for code in codes.values())
        rows.append((module, len(codes), counts))
        survivors[module] = sorted(k for k, code in codes.items() if status_by_exit_code[code] == "survived")
    header = f"{'module':38} {'mutants':>7} {'killed':>7} {'survived':>8} {'timeout':>7} {'no tests':>8} {'other':>6}"
    print(header)
    print("-" * len(header))
    total: Counter[str] = Counter()
    for module, n, counts in rows:
        other = n - sum(counts[s] for s in ("killed", "survived", "timeout", "no tests"))
        print(f"{module:38} {n:>7} {counts['killed']:>7} {counts['survived']:>8} {counts['timeout']:>7} {counts['no tests']:>8} {other:>6}")
        total.update(counts)
        total["mutants"] += n
    print("-" * len(header))
    print(f"{'total':38} {total['mutants']:>7} {total['killed']:>7} {total['survived']:>8} {total['timeout']:>7} {total['no tests']:>8}")
    for module, names in survivors.items():
        if names:
            print(f"\nsurvivors in {module} ({len(names)}; `mutmut show NAME` for the diff):")
            for name in names:
                print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a one-line fix costs the model in output: an edit_file call vs rewriting the whole
file with write_file, on a real 860-line file (pyproject-metadata, vendored in tests/) and
a 1,000-line one. Output tokens are estimated as the call's JSON characters / 3.5 (no
tokenizer ships offline); the ratio does not depend on that estimate.

    python bench/edit_tokens.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import ROOT, save

CHARS_PER_TOKEN = 3.5


def call_chars(name: str, arguments: dict[str, str]) -> int:
    return len(json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False))


def costs(path: str, text: str, broken: str, fixed: str) -> dict[str, object]:
    edit = call_chars("edit_file", {"path": path, "old": broken, "new": fixed})
    write = call_chars("write_file", {"path": path, "content": text.replace(broken, fixed)})
    return {"lines": text.count("\n"), "edit_tokens": round(edit / CHARS_PER_TOKEN),
            "write_tokens": round(write / CHARS_PER_TOKEN),
            "ratio_pct": round(100 * edit / write, 2)}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.realprojects import PROJECTS, plant_bug, unpack

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = unpack("a", Path(tmp))
        bug = plant_bug("a", root)
        text = (root / bug.path).read_text(encoding="utf-8")
        results[f"{bug.path} (real)"] = costs(bug.path, text, bug.broken.strip(),
                                              bug.original.strip())
    assert PROJECTS["a"].bug.path
    big = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(333)) + "# end\n"
    results["big.py (1,000 lines)"] = costs("big.py", big, "return x + 250", "return x - 250")
    print(f"{'file':<40} {'lines':>6} {'edit_file':>10} {'write_file':>11} {'ratio':>8}")
    for name, r in results.items():
        print(f"{name:<40} {r['lines']:>6} {r['edit_tokens']:>7} tok {r['write_tokens']:>7} tok "
              f"{r['ratio_pct']:>7.2f}%")
    save("edit_tokens", results)


if __name__ == "__main__":
    main()

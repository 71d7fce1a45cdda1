"""Regenerate docs/configuration.md's settings table from jetbox.spec.config.Settings."""

from __future__ import annotations

import re
from pathlib import Path

from jetbox.spec.config import settings_table

README = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
START, END = "<!-- settings-table -->", "<!-- /settings-table -->"

text = README.read_text(encoding="utf-8")
block = f"{START}\n{settings_table()}\n{END}"
new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
README.write_text(new, encoding="utf-8")
print("settings table", "updated" if new != text else "already current")

"""The README's quickstart runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs() -> None:
    text = README.read_text()
    quickstart = text[text.index("## Quickstart") :]
    block = re.search(r"```python\n(.*?)```", quickstart, re.S)
    assert block is not None
    exec(compile(block.group(1), str(README), "exec"), {})

"""Sections of ``RESULTS.md`` that other benchmarks own, between ``<!-- name -->`` and
``<!-- /name -->`` marks: each benchmark replaces its own, and ``benchmarks.run``, which
rewrites the file, keeps them."""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r"<!-- (?P<name>[\w-]+) -->\n.*?<!-- /(?P=name) -->\n?", re.S)


def marked(name: str, text: str) -> str:
    """``text`` between the marks of section ``name``."""
    return f"<!-- {name} -->\n{text.strip()}\n<!-- /{name} -->\n"


def kept_sections(path: Path) -> str:
    """Every marked section of ``path`` (empty when there is none), in order."""
    if not path.exists():
        return ""
    return "\n".join(m.group(0) for m in _SECTION.finditer(path.read_text()))


def write_section(name: str, text: str, path: Path) -> None:
    """Replace section ``name`` of ``path`` with ``text`` (appended if absent)."""
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    section = marked(name, text)
    pattern = re.compile(rf"<!-- {re.escape(name)} -->\n.*?<!-- /{re.escape(name)} -->\n?", re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: section, current)
    else:
        updated = current.rstrip() + "\n\n" + section
    path.write_text(updated)

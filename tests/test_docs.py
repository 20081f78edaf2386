"""The README stays a short user's guide, and the guides it links to are all there.

Links are read from the markdown text outside code: fenced blocks and inline code spans
are skipped, so JSON arrays and shell snippets are never mistaken for links.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

MAX_README_LINES = 300

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)[^`]*?\1")
# [text](target) or [text](target "title"); images ![alt](target) too.
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose(page: Path) -> str:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return _CODE_SPAN.sub("", text)


def _relative_links(page: Path) -> list[str]:
    """Every link target of a page that names a file in the repository."""
    targets = []
    for target in _LINK.findall(_prose(page)):
        if not target or target.startswith("#") or re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a pure anchor, or http(s):, mailto: and other schemes
        targets.append(target)
    return targets


def _resolve(page: Path, target: str) -> Path:
    path = target.split("#", 1)[0].split("?", 1)[0]
    return (page.parent / path).resolve()


def test_the_readme_has_at_most_300_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it a user's guide of at most "
        f"{MAX_README_LINES} and move details into docs/"
    )


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {_resolve(README, target) for target in _relative_links(README)}
    unlinked = [
        page.relative_to(ROOT).as_posix()
        for page in sorted(DOCS.glob("*.md"))
        if page.resolve() not in linked
    ]
    assert not unlinked, f"docs pages the README does not link to: {unlinked}"


def test_every_relative_link_points_to_a_file_in_the_repository() -> None:
    broken = []
    for page in _pages():
        for target in _relative_links(page):
            resolved = _resolve(page, target)
            inside = resolved == ROOT or ROOT in resolved.parents
            if not inside or not resolved.exists():
                broken.append(f"{page.relative_to(ROOT).as_posix()}: {target}")
    assert not broken, f"links to nothing in the repository: {broken}"


def test_no_page_points_outside_the_repository_or_reads_like_a_diary() -> None:
    offending = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for phrase in ("../shared", "this stop"):
            if phrase in text.lower():
                offending.append(f"{page.relative_to(ROOT).as_posix()}: {phrase!r}")
    assert not offending, f"pages that say what they should not: {offending}"

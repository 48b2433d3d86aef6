"""The documentation stays navigable and true: every relative link of README.md, tuning.md,
CHANGELOG.md and docs/*.md names a file that exists (and a heading of it, for a #fragment),
and the API table of docs/compatibility.md is what a running broker advertises."""

import re
from pathlib import Path

import pytest

import hpbroker

ROOT = Path(hpbroker.__file__).parent.parent
PAGES = sorted({ROOT / "README.md", ROOT / "tuning.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")})

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The page without its code blocks and code spans, where link syntax is not a link."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def links(text: str) -> list[str]:
    return _LINK.findall(_prose(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed (word
    characters, spaces and hyphens stay), spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title in _HEADING.findall(_FENCE.sub("", text)):
        s = slug(title)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    """The links whose file or heading is missing."""
    broken = []
    text = page.read_text()
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
            continue
        if fragment and dest.suffix == ".md" and fragment not in anchors(dest.read_text()):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = broken_links(page)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_the_link_checker_finds_what_is_broken(tmp_path):
    (tmp_path / "b.md").write_text("# Title\n## A `code` heading, twice!\n## A `code` heading, twice!\n")
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](b.md) [ok](b.md#title) [ok](b.md#a-code-heading-twice-1) [web](https://x.org/y)\n"
        "[gone](c.md) [no heading](b.md#nothing) ![img](pic.png)\n"
        "```\n[in code](nowhere.md)\n```\n`[span](nowhere.md)` [self](#none)\n"
    )
    assert broken_links(page) == ["c.md", "b.md#nothing", "pic.png", "#none"]


def _api_table() -> dict[int, tuple[int, int]]:
    text = (ROOT / "docs" / "compatibility.md").read_text()
    section = text.split("## Kafka APIs", 1)[1].split("\n## ", 1)[0]
    table = {}
    for m in re.finditer(r"^\| *\w+ *\| *(\d+) *\| *(\d+)(?:-(\d+))? *\|", section, re.M):
        low = int(m.group(2))
        table[int(m.group(1))] = (low, int(m.group(3) or low))
    return table


def test_the_api_table_is_what_the_broker_advertises():
    from hpbroker.testing import running_broker
    from tests.integration.rawclient import RawClient

    with running_broker() as broker, RawClient(broker.bootstrap) as client:
        answer = client.request(18, 0, {})
    advertised = {a["api_key"]: (a["min_version"], a["max_version"]) for a in answer["api_keys"]}
    assert _api_table() == advertised

"""docs/configuration.md is what the config definitions generate, and every environment
variable hpbroker or its tests read is declared (hpbroker/environment.py)."""

import re
from pathlib import Path

from hpbroker import environment
from hpbroker.configdef import BROKER_CONFIGS, TOPIC_CONFIGS, doc

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_page_is_what_the_definitions_generate():
    assert doc.PAGE == ROOT / "docs" / "configuration.md"
    assert doc.PAGE.read_text(encoding="utf-8") == doc.render(), "docs/configuration.md is stale: run `make docs`"


def test_the_page_names_every_config_and_variable():
    page = doc.render()
    for name in [*TOPIC_CONFIGS, *BROKER_CONFIGS, *environment.VARIABLES]:
        assert f"### `{name}`" in page, name


def test_check_mode_reports_a_stale_page(tmp_path):
    page = tmp_path / "configuration.md"
    assert doc.main(["--check", str(page)]) == 1
    assert doc.main([str(page)]) == 0 and doc.main(["--check", str(page)]) == 0
    page.write_text(page.read_text() + "edited by hand\n")
    assert doc.main(["--check", str(page)]) == 1


def test_every_environment_variable_read_is_declared():
    """Environment variables are read through hpbroker/environment.py alone, and each one named
    in the code is declared there (HPBROKER_CMD is a perf/ template, not a variable)."""
    readers = []
    named = set()
    for path in [*ROOT.glob("hpbroker/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("tools/*.py")]:
        text = path.read_text(encoding="utf-8")
        if path.name != "environment.py" and re.search(r"os\.environ\.get|os\.getenv|environ\[", text):
            readers.append(str(path.relative_to(ROOT)))
        named |= set(re.findall(r"\b(HPB(?:ROKER)?_[A-Z_]+)\b", text))
    assert readers == []
    assert named - {"HPBROKER_CMD"} <= set(environment.VARIABLES)

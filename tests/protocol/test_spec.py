"""Our declarations agree with Kafka's message JSON within the versions we support.

The JSON lives outside the repository (../shared/kafka-message-spec); without it the test is
skipped, since the declarations themselves are committed data.
"""

import json
import re
from pathlib import Path

import pytest

from hpbroker.protocol import MESSAGES, SUPPORTED_VERSIONS
from hpbroker.protocol.schema import in_range, parse_versions

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT.parent / "shared" / "kafka-message-spec"

pytestmark = pytest.mark.skipif(not SPEC_DIR.is_dir(), reason=f"{SPEC_DIR} absent")


def _snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _load(name):
    text = (SPEC_DIR / f"{name}.json").read_text()
    return json.loads("\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//")))


def _check_fields(ours, theirs, common, version, path):
    theirs_present = [f for f in theirs if in_range(parse_versions(f["versions"]), version)]
    ours_present = [f for f in ours if f.present_in(version)]
    assert [f.name for f in ours_present] == [_snake(f["name"]) for f in theirs_present], path
    for o, t in zip(ours_present, theirs_present):
        where = f"{path}.{o.name} v{version}"
        assert o.type == t["type"], where
        assert o.nullable_in(version) == in_range(parse_versions(t.get("nullableVersions")), version), where
        tagged = "tag" in t and in_range(parse_versions(t.get("taggedVersions", t["versions"])), version)
        assert o.tagged_in(version) == tagged, where
        if tagged:
            assert o.tag == t["tag"], where
        sub = t.get("fields")
        base = t["type"][2:] if t["type"].startswith("[]") else t["type"]
        if sub is None and base in common:
            sub = common[base]
        if sub:
            _check_fields(o.fields, sub, common, version, where)
        else:
            assert not o.fields, where


@pytest.mark.parametrize("key", sorted(SUPPORTED_VERSIONS))
@pytest.mark.parametrize("which", [0, 1], ids=["request", "response"])
def test_declaration_matches_kafka(key, which):
    ours = MESSAGES[key][which]
    spec = _load(ours.name)
    assert spec["apiKey"] == key
    common = {c["name"]: c["fields"] for c in spec.get("commonStructs", [])}
    valid = parse_versions(spec["validVersions"])
    flexible = parse_versions(spec.get("flexibleVersions", "none"))
    lo, hi = SUPPORTED_VERSIONS[key]
    assert valid[0] <= lo and hi <= valid[1], "supported versions outside Kafka's valid range"
    for version in range(lo, hi + 1):
        assert ours.is_flexible(version) == in_range(flexible, version), version
        _check_fields(ours.fields, spec["fields"], common, version, ours.name)


def test_header_declarations_match_kafka():
    req = _load("RequestHeader")
    names = [f["name"] for f in req["fields"]]
    assert names == ["RequestApiKey", "RequestApiVersion", "CorrelationId", "ClientId"]
    client_id = req["fields"][3]
    assert client_id["flexibleVersions"] == "none"  # int16 length even in header v2
    assert _load("ResponseHeader")["flexibleVersions"] == "1+"

"""Transcribe Kafka's message declarations into hpbroker/protocol/messages/*.py.

Usage: python tools/gen_messages.py PATH/TO/kafka-message-spec

Run once when the set of APIs grows; the output is committed and read by people, so the
repository never needs the JSON at run time. Field names are converted to snake_case; struct
types referenced from ``commonStructs`` are expanded in place, so every declaration is
self-contained. tests/protocol/test_spec.py checks the result against the JSON when present.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "hpbroker" / "protocol" / "messages"

#: api key -> (Kafka API name, module name)
APIS = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    4: "LeaderAndIsr",
    5: "StopReplica",
    6: "UpdateMetadata",
    7: "ControlledShutdown",
    8: "OffsetCommit",
    9: "OffsetFetch",
    10: "FindCoordinator",
    11: "JoinGroup",
    12: "Heartbeat",
    13: "LeaveGroup",
    14: "SyncGroup",
    15: "DescribeGroups",
    16: "ListGroups",
    17: "SaslHandshake",
    18: "ApiVersions",
    19: "CreateTopics",
    20: "DeleteTopics",
    21: "DeleteRecords",
    22: "InitProducerId",
    23: "OffsetForLeaderEpoch",
    24: "AddPartitionsToTxn",
    25: "AddOffsetsToTxn",
    26: "EndTxn",
    27: "WriteTxnMarkers",
    28: "TxnOffsetCommit",
    29: "DescribeAcls",
    30: "CreateAcls",
    31: "DeleteAcls",
    32: "DescribeConfigs",
    33: "AlterConfigs",
    35: "DescribeLogDirs",
    36: "SaslAuthenticate",
    37: "CreatePartitions",
    42: "DeleteGroups",
    44: "IncrementalAlterConfigs",
    47: "OffsetDelete",
    50: "DescribeUserScramCredentials",
    51: "AlterUserScramCredentials",
    60: "DescribeCluster",
    61: "DescribeProducers",
    65: "DescribeTransactions",
    66: "ListTransactions",
}


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def load(path: Path) -> dict:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))
    return json.loads(text)


def parse_default(ftype: str, raw):
    if not isinstance(raw, str):
        return raw
    if raw == "null":
        return None
    if ftype == "bool":
        return raw == "true"
    if ftype.startswith("int") or ftype.startswith("uint"):
        return int(raw, 0)
    if ftype == "float64":
        return float(raw)
    return raw


def render_field(f: dict, common: dict, indent: int) -> str:
    pad = " " * indent
    ftype = f["type"]
    args = [repr(snake(f["name"])), repr(ftype), repr(f["versions"])]
    if "nullableVersions" in f:
        args.append(f"nullable={f['nullableVersions']!r}")
    if "tag" in f:
        args.append(f"tag={f['tag']}")
        args.append(f"tagged={f.get('taggedVersions', f['versions'])!r}")
    if "default" in f and f["default"] != "":
        args.append(f"default={parse_default(ftype, f['default'])!r}")
    elif "default" in f and ftype == "string":
        args.append("default=''")
    sub = f.get("fields")
    base = ftype[2:] if ftype.startswith("[]") else ftype
    if sub is None and base in common:
        sub = common[base]
    if not sub:
        return f"{pad}F({', '.join(args)}),"
    inner = "\n".join(render_field(s, common, indent + 4) for s in sub)
    return f"{pad}F({', '.join(args)}, fields=(\n{inner}\n{pad})),"


def render_message(spec: dict) -> str:
    common = {c["name"]: c["fields"] for c in spec.get("commonStructs", [])}
    flex = spec.get("flexibleVersions", "none")
    fields = "\n".join(render_field(f, common, 4) for f in spec["fields"])
    return (
        f"Message({spec['name']!r}, api_key={spec['apiKey']}, valid={spec['validVersions']!r}, "
        f"flexible={flex!r}, fields=(\n{fields}\n))"
    )


def main(spec_dir: Path) -> None:
    names = []
    for key, api in sorted(APIS.items()):
        req = load(spec_dir / f"{api}Request.json")
        resp = load(spec_dir / f"{api}Response.json")
        mod = snake(api)
        names.append((key, mod))
        OUT.joinpath(f"{mod}.py").write_text(
            f'"""{api} (api key {key}), transcribed from Kafka\'s {api}Request.json and '
            f"{api}Response.json.\n\n"
            "F(name, type, versions, nullable=, tag=, tagged=, default=, fields=): see "
            'hpbroker/protocol/schema.py.\n"""\n'
            "from hpbroker.protocol.schema import Field as F, Message\n\n"
            f"API_KEY = {key}\n"
            f"NAME = {api!r}\n\n"
            f"REQUEST = {render_message(req)}\n\n"
            f"RESPONSE = {render_message(resp)}\n"
        )
        print("wrote", mod)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

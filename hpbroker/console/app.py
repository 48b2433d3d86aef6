"""The console's pages by path: ``Console(bootstrap).page(path, query)`` -> (status, type, body).

    /                                   brokers, controller, topic and group counts, throughput
    /brokers                            every broker, the controller marked
    /topics                             every topic: partitions, records, size
    /topics/<t>                         partitions (leader, replicas, ISR, offsets, size),
                                        the topic's own configs, throughput
    /topics/<t>/partitions/<p>?offset=  records from an offset: offset, timestamp, key, value,
                                        headers (bytes shown safely), then a link to the next
    /groups                             every consumer group and its state
    /groups/<g>                         members and their assignment, lag per partition, lag plot

Served by the HTTP server of metrics.port beside /metrics (the broker's own listener as
bootstrap), and by ``hpbroker console --bootstrap HOST:PORT --port N`` for any Kafka-protocol
cluster. Read-only: nothing here changes the cluster.

Who may touch: any thread (each page opens its own connections).
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from hpbroker.admin.client import ToolError
from hpbroker.console import cluster
from hpbroker.console.history import History
from hpbroker.console.render import esc, link, page, path_part, plot, show_bytes, size, table, when

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
RECORDS_PER_PAGE = 50


class Console:
    def __init__(self, bootstrap: str, history: History | None = None):
        self.bootstrap = bootstrap
        self.history = history or History(bootstrap)

    def close(self) -> None:
        self.history.stop()

    def page(self, path: str, query: dict) -> tuple[int, str, bytes]:
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        self.history.start()
        try:
            if not parts:
                return 200, HTML, self.overview()
            if parts == ["brokers"]:
                return 200, HTML, self.brokers()
            if parts == ["topics"]:
                return 200, HTML, self.topics()
            if len(parts) == 2 and parts[0] == "topics":
                return 200, HTML, self.topic(parts[1])
            if len(parts) == 4 and parts[0] == "topics" and parts[2] == "partitions" and parts[3].isdigit():
                offset = query.get("offset", [""])[0]
                return (
                    200,
                    HTML,
                    self.records(parts[1], int(parts[3]), int(offset) if offset.lstrip("-").isdigit() else None),
                )
            if parts == ["groups"]:
                return 200, HTML, self.groups()
            if len(parts) == 2 and parts[0] == "groups":
                return 200, HTML, self.group(parts[1])
        except ToolError as exc:
            return 502, HTML, page("The cluster refused", f"<p class='error'>{esc(exc)}</p>")
        except OSError as exc:
            return 502, HTML, page("The cluster cannot be reached", f"<p class='error'>{esc(exc)}</p>")
        return 404, HTML, page("Not found", f"<p>No page at <code>{esc(path)}</code>.</p>")

    # pages ------------------------------------------------------------------------------------
    def overview(self) -> bytes:
        view = cluster.cluster(self.bootstrap)
        groups = cluster.groups(self.bootstrap)
        user_topics = [t for t in view.topics if not t[2]]
        rows = [
            ["Cluster id", esc(view.cluster_id or "-")],
            ["Brokers", esc(len(view.brokers))],
            ["Controller", esc(view.controller_id)],
            ["Topics", link("/topics", len(user_topics))],
            ["Partitions", esc(sum(n for _, n, _ in user_topics))],
            ["Consumer groups", link("/groups", len(groups))],
        ]
        body = table(["", ""], rows)
        body += "<h2>Records in per second, by topic</h2>" + plot(self.history.throughput(), "records/s")
        body += "<h2>Consumer lag, by group</h2>" + plot(self.history.lag(), "records behind")
        return page("Overview", body)

    def brokers(self) -> bytes:
        view = cluster.cluster(self.bootstrap)
        rows = [
            [esc(n), esc(host), esc(port), esc(rack or "-"), "controller" if n == view.controller_id else ""]
            for n, host, port, rack in view.brokers
        ]
        return page("Brokers", table(["Id", "Host", "Port", "Rack", "Role"], rows, numeric=(0, 2)))

    def topics(self) -> bytes:
        view = cluster.cluster(self.bootstrap)
        tps = [(t, p) for t, n, _ in view.topics for p in range(n)]
        starts = cluster.list_offsets(self.bootstrap, tps, cluster.EARLIEST)
        ends = cluster.list_offsets(self.bootstrap, tps, cluster.LATEST)
        rows = []
        for name, n, internal in view.topics:
            records = sum(ends.get((name, p), 0) - starts.get((name, p), 0) for p in range(n))
            rows.append(
                [link(f"/topics/{path_part(name)}", name), esc(n), esc(records), "internal" if internal else ""]
            )
        return page("Topics", table(["Topic", "Partitions", "Records", ""], rows, numeric=(1, 2)))

    def topic(self, name: str) -> bytes:
        view = cluster.topic(self.bootstrap, name)
        d = view.description
        rows = []
        for p in d.partitions:
            start, end = view.offsets.get(p.partition, (-1, -1))
            rows.append(
                [
                    link(f"/topics/{path_part(name)}/partitions/{p.partition}", p.partition),
                    esc(p.leader),
                    esc(", ".join(map(str, p.replicas))),
                    esc(", ".join(map(str, p.isr))),
                    esc(start),
                    esc(end),
                    esc(max(end - start, 0)),
                    esc(size(view.sizes.get(p.partition))),
                ]
            )
        body = f"<p>Topic id <code>{esc(d.topic_id or '-')}</code>, replication factor {esc(d.replication_factor)}</p>"
        body += table(
            ["Partition", "Leader", "Replicas", "ISR", "Log start offset", "Log end offset", "Records", "Size"],
            rows,
            numeric=(0, 1, 4, 5, 6),
        )
        body += "<h2>Configs set on the topic</h2>" + table(
            ["Name", "Value"], [[esc(k), esc(v)] for k, v in sorted(d.configs.items())]
        )
        body += "<h2>Records in per second</h2>" + plot(self.history.throughput(name), "records/s")
        return page(f"Topic {name}", body)

    def records(self, name: str, partition: int, offset: int | None) -> bytes:
        start, end = None, None
        if offset is None or offset < 0:
            start = cluster.list_offsets(self.bootstrap, [(name, partition)], cluster.EARLIEST).get(
                (name, partition), 0
            )
            offset = start
        end = cluster.list_offsets(self.bootstrap, [(name, partition)], cluster.LATEST).get((name, partition), -1)
        records, next_offset = cluster.records(self.bootstrap, name, partition, offset, RECORDS_PER_PAGE)
        rows = []
        for r in records:
            headers = "<br>".join(f"{esc(k)}: {show_bytes(v)}" for k, v in r.headers) or "<span class='muted'>-</span>"
            rows.append([esc(r.offset), esc(when(r.timestamp)), show_bytes(r.key), show_bytes(r.value), headers])
        base = f"/topics/{path_part(name)}/partitions/{partition}"
        body = f"<p>{link(f'/topics/{path_part(name)}', 'Topic ' + name)}, partition {esc(partition)}: from offset {esc(offset)}, log end offset {esc(end)}</p>"
        body += table(["Offset", "Timestamp", "Key", "Value", "Headers"], rows, numeric=(0,))
        if records and next_offset < end:
            body += f"<p>{link(f'{base}?offset={next_offset}', f'Next records from offset {next_offset}')}</p>"
        return page(f"{name}-{partition} records", body)

    def groups(self) -> bytes:
        rows = [[link(f"/groups/{path_part(g)}", g), esc(state or "-")] for g, state in cluster.groups(self.bootstrap)]
        return page("Consumer groups", table(["Group", "State"], rows))

    def group(self, group_id: str) -> bytes:
        d = cluster.group(self.bootstrap, group_id)
        body = f"<p>State <b>{esc(d.state)}</b>, protocol {esc(d.protocol_type or '-')}/{esc(d.protocol or '-')}, {len(d.members)} member(s), total lag <b>{esc(sum(r.lag or 0 for r in d.partitions))}</b></p>"
        members = []
        for m in d.members:
            assignment = ", ".join(f"{t}: {', '.join(map(str, sorted(ps)))}" for t, ps in m["assignment"]) or "-"
            members.append([esc(m["member_id"]), esc(m["client_id"]), esc(m["host"]), esc(assignment)])
        body += "<h2>Members</h2>" + table(["Member", "Client id", "Host", "Assignment"], members)
        rows = [
            [
                link(f"/topics/{path_part(r.topic)}", r.topic),
                esc(r.partition),
                esc("-" if r.committed_offset is None else r.committed_offset),
                esc("-" if r.log_end_offset is None else r.log_end_offset),
                esc("-" if r.lag is None else r.lag),
                esc(r.member_id or "-"),
            ]
            for r in d.partitions
        ]
        body += "<h2>Offsets and lag</h2>" + table(
            ["Topic", "Partition", "Committed offset", "Log end offset", "Lag", "Member"], rows, numeric=(1, 2, 3, 4)
        )
        body += "<h2>Lag over time</h2>" + plot(self.history.lag(group_id), "records behind")
        return page(f"Group {group_id}", body)

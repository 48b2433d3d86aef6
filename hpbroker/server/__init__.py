"""The only layer that touches sockets and processes, in two parts.

Here, what every topology uses: a client connection (framing, the request path, responses in
request order, sendfile: ``connection``), accepting connections and Kafka's connection limits
(``connection``, ``connection_quotas``), the event loop choice (``eventloop``), the kernel
scheduling policy (``scheduling``), and the in-process server (``broker``: everything in one
process, ``--handlers 0``).

In ``multiproc``, what only the multi-process topology has: the supervisor, processors and
handler processes, the shared-memory rings, partition table and metadata snapshot, the ring
envelope, the routing of requests to handlers (and the byte-level Produce split), and the
wake-ups and ticks between processes.
"""

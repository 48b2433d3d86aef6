"""The multi-process topology (DESIGN.md section 2): processors own the client connections,
handler processes own the partitions, shared memory joins them.

- ``supervisor``: the main process; creates the shared structures (``topology``), forks and
  restarts the children;
- ``processor`` (+ ``processor_broker``, the broker its handler modules see): client
  connections on the shared port, requests routed by API (``routing``, from each API module's
  ROUTE), Fetch served from the segment files;
- ``handler_process`` (+ ``handler_broker``): the only writer of the partitions that hash to
  it, and handler 0 the node's controller;
- ``ring`` / ``_pyring`` (twin of cython/server/multiproc/_cring.pyx), ``envelope``: the
  request and response rings and the header of their records;
- ``partition_table``, ``metadata_snapshot``: what handlers publish to processors;
- ``produce_split``: a Produce cut by owner and its answers joined, on bytes;
- ``wakeups``: eventfd wake-ups between processes, and each process's safety tick.
"""

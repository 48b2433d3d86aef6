"""Prometheus metrics with Kafka's names, counted in each broker process, served at /metrics.

- layout.py: the byte layout of one process's statistics region, and its indexes
- _pystats.py / cython/metrics/_cstats.pyx: the counting on the request path (one call per
  request, or per partition, never per record)
- stats.py: ``ProcessStats``, what a process counts through (``broker.stats``)
- gauges.py: the gauges a process sets at its maintenance tick
- catalog.py: every metric served, its name (as the JMX exporter's Kafka rules make it),
  meaning and where its value lives
- collector.py: the regions of every process added up, as prometheus-client families
- http.py: the HTTP server of ``metrics.port`` (/metrics, and the console's pages)
"""

"""The web console: brokers, topics, consumer groups, records and throughput of any
Kafka-protocol cluster, as server-rendered HTML pages with inline SVG plots.

- cluster.py: what a page shows, asked of the cluster over the Kafka protocol (the admin
  client, hpbroker/admin/client.py), so it works against any Kafka-protocol broker
- history.py: a sampler keeping the last minutes of throughput and lag for the plots
- render.py: HTML and SVG, every value escaped (record bytes are shown safely whatever they hold)
- app.py: the pages by path, what the HTTP server of metrics.port (or ``hpbroker console``) serves

Read-only: no page changes anything in the cluster.
"""

"""RecordBatch v2 (magic 2): validate and patch in place, iterate, build. See batch.py."""

"""Partition state on top of the log: leader epoch, high watermark, producer state, purgatory."""

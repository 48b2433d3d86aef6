"""What a request handler may ask of a broker, whichever topology runs it.

- ``request``: the per-request context a handler receives, and the signals it may raise.

This package imports nothing from ``hpbroker.handlers`` or ``hpbroker.server``: handlers import it.
"""

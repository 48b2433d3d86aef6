"""What a request handler may ask of a broker, whichever topology runs it.

- ``request``: the per-request context a handler receives, and the signals it may raise;
- ``routes``: where each API runs in the multi-process topology (each API module declares
  its ``ROUTE``; the registry refuses a module without one).

This package imports nothing from ``hpbroker.handlers`` or ``hpbroker.server``: handlers import it.
"""

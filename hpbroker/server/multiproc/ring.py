"""The ring implementation in use: compiled (cython/server/multiproc/_cring.pyx) or its pure twin.

See hpbroker/server/multiproc/_pyring.py for the byte layout and the wake-up protocol.
"""

from hpbroker._speedups import load

_impl = load("hpbroker.server.multiproc._cring", "hpbroker.server.multiproc._pyring")

Ring = _impl.Ring
ring_bytes = _impl.ring_bytes
FULL, WAKE, PUSHED = _impl.FULL, _impl.WAKE, _impl.PUSHED

"""The primitive codec in use: the compiled one, or its pure twin under HPBROKER_PURE=1."""

from hpbroker._speedups import load

prim = load("hpbroker.protocol._cprimitives", "hpbroker.protocol._pyprimitives")

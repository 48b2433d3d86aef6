"""The only layer that touches sockets and processes."""

"""Shared test set-up. Tests mirror the package layout: tests/<layer>/test_*.py."""

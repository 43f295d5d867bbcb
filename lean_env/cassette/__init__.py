"""Replay cassettes: the on-disk format, lookups, and builders from published datasets."""

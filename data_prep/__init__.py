"""Converters that write the c2f dataset format (docs/data.md)."""

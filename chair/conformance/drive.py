"""The drive stage (being written)."""

"""Widgets of ``cdig top``, one per module."""

"""Screens of ``cdig top``: the main screen, help, view picker."""

"""cdig."""

"""``cdig top``: the Textual TUI over the collector's aggregator (see ``app.py``)."""

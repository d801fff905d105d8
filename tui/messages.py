"""The messages of ``cdig top``: small dataclasses, posted from the workers to the
UI thread (``post_message`` is thread-safe) or between widgets and screens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .refresher import Frame


@dataclass
class FrameReady(Message):
    """The refresh worker built a frame to show."""

    frame: Frame


@dataclass
class FeedEnded(Message):
    """A finite source (a capture) was read to its end."""

    events: int


@dataclass
class FeedFailed(Message):
    """The collector stopped on an error (one line for the user)."""

    error: str


@dataclass
class FilterSubmitted(Message):
    """The filter bar's text, to be applied."""

    text: str


@dataclass
class ViewChosen(Message):
    """A view picked in the view picker or the command palette."""

    view: str

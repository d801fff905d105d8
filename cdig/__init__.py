"""cdig: syscall tracing and monitoring for Linux hosts that run containers."""

__version__ = "0.1.0"

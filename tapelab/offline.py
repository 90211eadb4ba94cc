"""`offline()`: run code with network look-ups refused, so nothing can download."""

import contextlib
import socket


class NetworkDisabledError(OSError):
    """Raised for any network look-up made inside :func:`offline`."""


@contextlib.contextmanager
def offline():
    """Refuse every host-name look-up inside the block (nothing downloads).

    Code that would download (e.g. ``ResNet50(weights="imagenet")`` with an
    empty Keras cache) fails fast and the same way on every machine, with or
    without a network.

    >>> import urllib.request
    >>> with offline():
    ...     urllib.request.urlopen("https://example.com")
    Traceback (most recent call last):
    ...
    urllib.error.URLError: <urlopen error network disabled by tapelab.offline(): ...>
    """
    real = socket.getaddrinfo

    def refuse(host, *args, **kwargs):
        raise NetworkDisabledError(
            f"network disabled by tapelab.offline(): refused to look up {host!r}"
        )

    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.getaddrinfo = real

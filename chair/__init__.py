"""Open massage-chair controller: protocol, safety supervisor, programs and CLI."""

__version__ = "0.1.0"

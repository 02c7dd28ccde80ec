"""Code shared by the gateway and the executor: configuration, wire formats, sockets, logging.

Nothing in here imports ``gateway`` or ``executor``.
"""
__version__ = "0.1.0"

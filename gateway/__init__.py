"""The Socket.IO gateway: one controlling client, forwarded to the executor over ZeroMQ."""

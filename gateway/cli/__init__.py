"""``robotctl``: the command-line Socket.IO client of the appliance (``python3 -m gateway.cli``).

Layers, each importing only those before it: errors -> settings -> output, progress,
zipping -> render -> connection -> upload -> commands -> __main__. Nothing here imports the
gateway's server modules (only shared.protocol's names), so the command needs nothing but
the python-socketio client.
"""
from __future__ import annotations

"""``robotctl``: the command-line Socket.IO client of the appliance (``python3 -m gateway.cli``).

Layers, each importing only those before it: errors -> settings -> output, progress,
zipping -> connection -> upload -> commands -> __main__. Nothing here imports the gateway's
server modules, so the command runs with the python-socketio client alone.
"""

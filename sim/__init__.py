"""The simulated chair: device firmware, numpy plant and the person sitting in it.

Reached from the controller only through pyserial's URL handlers (`sim://`).
"""

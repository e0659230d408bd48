"""`chair serve`: one long-running host that holds one chair and runs sessions on request.

The chair thread (`host.ChairHost`) owns the port and runs each session with the same
controller, supervisor and trace as `chair run`; every front end (the JSON-RPC websocket
and the web page in `web`, Home Assistant over MQTT in `mqtt`) calls the same `api.Host`
methods, so a start, a stop or an emergency stop takes one path whoever sends it.
"""

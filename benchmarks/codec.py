"""The codec alone: encode plus decode of the messages a real session puts on the wire."""

from __future__ import annotations

import time

from benchmarks.common import Row
from benchmarks.wire import Capture
from chair import protocol as p

TARGET = 100_000


def _best_rate(messages: list, encode, chunks: list[bytes], decoder_class, repeat: int) -> float:
    """Messages per second for encoding `messages` and decoding `chunks` (best of `repeat`)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for message in messages:
            encode(message)
        middle = time.perf_counter()
        decoder = decoder_class()
        decoded = 0
        for chunk in chunks:
            decoded += len(decoder.feed(chunk))
        ended = time.perf_counter()
        assert decoded == len(messages), (decoded, len(messages))
        best = min(best, (middle - started) + (ended - middle))
    return len(messages) / best


def run(quick: bool, capture: Capture) -> list[Row]:
    repeat = 1 if quick else 5
    device_chunks = [data for _, data in capture.rx]
    host_chunks = [data for _, data in capture.tx]
    decoder = p.DeviceDecoder()
    device_messages = [m for chunk in device_chunks for m in decoder.feed(chunk)]
    decoder = p.HostDecoder()
    frames = [e for chunk in host_chunks for e in decoder.feed(chunk)]
    assert all(isinstance(m, p.Frame) for m in frames), "a session sends only whole frames"
    assert not any(isinstance(m, p.BadLine) for m in device_messages)

    status = [m for m in device_messages if isinstance(m, p.StatusReport)]
    status_lines = [p.encode_device(m) for m in status]
    status_rate = _best_rate(status, p.encode_device, status_lines, p.DeviceDecoder, repeat)

    device_rate = _best_rate(device_messages, p.encode_device, device_chunks,
                             p.DeviceDecoder, repeat)
    host_rate = _best_rate(frames, lambda f: p.encode_command(f.command, f.seq), host_chunks,
                           p.HostDecoder, repeat)
    n_dev, n_host = len(device_messages), len(frames)
    mix_rate = (n_dev + n_host) / (n_dev / device_rate + n_host / host_rate)
    kinds = {}
    for m in device_messages:
        kinds[type(m).__name__] = kinds.get(type(m).__name__, 0) + 1
    mix = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return [
        Row("codec.status", "codec: status line (~155 B) encode + decode", f">= {TARGET:,}/s",
            f"{status_rate:,.0f}/s", round(status_rate), "messages/s", status_rate >= TARGET,
            f"{len(status)} status lines of one session"),
        Row("codec.session", "codec: a session's traffic, both directions, encode + decode",
            f">= {TARGET:,}/s", f"{mix_rate:,.0f}/s", round(mix_rate), "messages/s",
            mix_rate >= TARGET, f"host {n_host} frames at {host_rate:,.0f}/s; device "
            f"{n_dev} lines ({mix}) at {device_rate:,.0f}/s"),
    ]

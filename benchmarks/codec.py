"""The codec alone: encode plus decode of the messages a real session puts on the wire."""

from __future__ import annotations

import time

from benchmarks.common import Row, median
from benchmarks.wire import Capture
from chair import protocol as p

TARGET = 100_000


def _rates(messages: list, encode, chunks: list[bytes], decoder_class,
           repeat: int) -> tuple[float, float, float]:
    """Messages per second (encode, decode, both) for encoding `messages` and decoding
    `chunks`: each the median over `repeat` passes."""
    enc, dec = [], []
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
        enc.append(middle - started)
        dec.append(ended - middle)
    n = len(messages)
    both = median([e + d for e, d in zip(enc, dec, strict=True)])
    return n / median(enc), n / median(dec), n / both


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
    status_enc, status_dec, status_rate = _rates(status, p.encode_device, status_lines,
                                                 p.DeviceDecoder, repeat)
    device_rate = _rates(device_messages, p.encode_device, device_chunks,
                         p.DeviceDecoder, repeat)[2]
    host_rate = _rates(frames, lambda f: p.encode_command(f.command, f.seq), host_chunks,
                       p.HostDecoder, repeat)[2]
    n_dev, n_host = len(device_messages), len(frames)
    mix_rate = (n_dev + n_host) / (n_dev / device_rate + n_host / host_rate)
    kinds = {}
    for m in device_messages:
        kinds[type(m).__name__] = kinds.get(type(m).__name__, 0) + 1
    mix = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return [
        Row("codec.status", "codec: status lines alone (~155 B), encode + decode",
            f">= {TARGET:,}/s",
            f"{status_rate:,.0f}/s", round(status_rate), "messages/s", status_rate >= TARGET,
            f"{len(status)} status lines of one session, nothing else; encode "
            f"{status_enc:,.0f}/s, decode {status_dec:,.0f}/s; medians of {repeat}"),
        Row("codec.session", "codec: a session's traffic, both directions, encode + decode",
            f">= {TARGET:,}/s", f"{mix_rate:,.0f}/s", round(mix_rate), "messages/s",
            mix_rate >= TARGET, f"host {n_host} frames at {host_rate:,.0f}/s; device "
            f"{n_dev} lines ({mix}) at {device_rate:,.0f}/s; medians of {repeat}"),
    ]

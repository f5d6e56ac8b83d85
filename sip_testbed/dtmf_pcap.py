"""Writes an RFC 2833/4733 DTMF pcap for a whole digit string, for SIPp's play_pcap_audio.

The pcaps SIPp ships hold one digit each with a fixed RTP timestamp, so a receiver drops a
repeated digit as a retransmission and may drop digits whose sequence numbers go backwards.
One stream per string, with increasing sequence numbers and timestamps, sends what a phone
would."""

from __future__ import annotations

import struct
from pathlib import Path

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
PAYLOAD_TYPE = 101
PACKET_MS = 20
SAMPLES_PER_MS = 8


def _packet(seq: int, timestamp: int, event: int, end: bool, duration: int, marker: bool) -> bytes:
    rtp = struct.pack(
        ">BBHII",
        0x80,
        (0x80 if marker else 0) | PAYLOAD_TYPE,
        seq & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        0x12345678,
    )
    rtp += struct.pack(">BBH", event, (0x80 if end else 0) | 10, duration)
    udp = struct.pack(">HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
    ip = (
        struct.pack(
            ">BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            0,
            0,
            64,
            17,
            0,
            bytes([127, 0, 0, 1]),
            bytes([127, 0, 0, 1]),
        )
        + udp
    )
    return b"\x00" * 12 + b"\x08\x00" + ip


def write(digits: str, path: Path, tone_ms: int = 120, gap_ms: int = 480) -> float:
    """Write the pcap; `,` is a one-second pause. Returns the stream's length in seconds."""
    records = []
    clock_ms = 0
    seq = 1000
    for char in digits:
        if char == ",":
            clock_ms += 1000
            continue
        if char not in EVENTS:
            raise ValueError(f"cannot send DTMF digit {char!r}")
        start_ts = clock_ms * SAMPLES_PER_MS
        steps = max(1, tone_ms // PACKET_MS)
        for i in range(steps):
            duration = (i + 1) * PACKET_MS * SAMPLES_PER_MS
            at = clock_ms + i * PACKET_MS
            records.append((at, _packet(seq, start_ts, EVENTS[char], False, duration, i == 0)))
            seq += 1
        # the end packet, sent three times as RFC 4733 recommends
        for i in range(3):
            at = clock_ms + steps * PACKET_MS + i * PACKET_MS
            records.append((at, _packet(seq, start_ts, EVENTS[char], True, duration, False)))
            seq += 1
        clock_ms += tone_ms + gap_ms
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for at_ms, frame in records:
        sec, usec = divmod(1_000_000_000 + at_ms * 1000, 1_000_000)
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return clock_ms / 1000

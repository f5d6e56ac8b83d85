"""Writes what a caller's phone sends as one RTP stream in a pcap, for SIPp's play_pcap_audio.

The script is a string, one character per event:

- a DTMF digit (``0-9 * #``): an RFC 2833/4733 telephone-event of 120 ms, then 480 ms of nothing;
- ``,``: one second of nothing (no RTP at all, like a phone with silence suppression);
- ``~``: one second of voice-like PCMU audio (a pitched, syllable-shaped signal);
- ``_``: one second of PCMU silence (what a phone without silence suppression sends while the
  caller says nothing; Asterisk's silence detection needs these frames to time a pause).

The pcaps SIPp ships hold one digit each with a fixed RTP timestamp, so a receiver drops a
repeated digit as a retransmission and may drop digits whose sequence numbers go backwards.
One stream per script, with increasing sequence numbers and timestamps, sends what a phone
would."""

from __future__ import annotations

import math
import struct
from pathlib import Path

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
EVENT_PAYLOAD_TYPE = 101
PCMU_PAYLOAD_TYPE = 0
PACKET_MS = 20
SAMPLES_PER_MS = 8
SAMPLES_PER_PACKET = PACKET_MS * SAMPLES_PER_MS
PCMU_SILENCE = b"\xff" * SAMPLES_PER_PACKET


class RtpStream:
    """Packets of one RTP source, with the pcap time each is sent at."""

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes]] = []
        self.seq = 1000

    def add(
        self, at_ms: int, payload_type: int, timestamp: int, payload: bytes, marker: bool
    ) -> None:
        rtp = struct.pack(
            ">BBHII",
            0x80,
            (0x80 if marker else 0) | payload_type,
            self.seq & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            0x12345678,
        )
        self.seq += 1
        udp = struct.pack(">HHHH", 6000, 6000, 8 + len(rtp) + len(payload), 0) + rtp + payload
        ip = struct.pack(
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
        self.records.append((at_ms, b"\x00" * 12 + b"\x08\x00" + ip + udp))

    def pcap(self) -> bytes:
        out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for at_ms, frame in self.records:
            sec, usec = divmod(1_000_000_000 + at_ms * 1000, 1_000_000)
            out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
        return bytes(out)


def ulaw(sample: int) -> int:
    """G.711 mu-law encoding of one signed 16-bit sample (as ITU-T G.191's reference does)."""
    value = sample >> 2  # 14-bit
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 0x21
    segment = max(0, value.bit_length() - 6)
    if segment > 7:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def _voice(second: int) -> bytes:
    """One second of a voice-like signal: a 140 Hz buzz with formants, in 4 syllables."""
    samples = bytearray()
    for n in range(8000):
        t = n / 8000
        envelope = max(0.0, math.sin(math.pi * ((t * 4) % 1.0)))  # four syllables a second
        pitch = 140 + 20 * math.sin(2 * math.pi * (0.5 * t + second))
        value = (
            0.6 * math.sin(2 * math.pi * pitch * t)
            + 0.3 * math.sin(2 * math.pi * 700 * t)
            + 0.2 * math.sin(2 * math.pi * 1200 * t)
        )
        samples.append(ulaw(int(9000 * envelope * value)))
    return bytes(samples)


def write(script: str, path: Path, tone_ms: int = 120, gap_ms: int = 480) -> float:
    """Write the pcap for `script` (see the module doc). Returns the stream's length in seconds."""
    stream = RtpStream()
    clock_ms = 0
    for index, char in enumerate(script):
        if char == ",":
            clock_ms += 1000
        elif char in "~_":
            audio = _voice(index) if char == "~" else PCMU_SILENCE * (1000 // PACKET_MS)
            for i in range(1000 // PACKET_MS):
                chunk = audio[i * SAMPLES_PER_PACKET : (i + 1) * SAMPLES_PER_PACKET]
                at = clock_ms + i * PACKET_MS
                stream.add(at, PCMU_PAYLOAD_TYPE, at * SAMPLES_PER_MS, chunk, False)
            clock_ms += 1000
        elif char in EVENTS:
            start_ts = clock_ms * SAMPLES_PER_MS
            steps = max(1, tone_ms // PACKET_MS)
            duration = 0
            for i in range(steps):
                duration = (i + 1) * SAMPLES_PER_PACKET
                event = struct.pack(">BBH", EVENTS[char], 10, duration)
                at = clock_ms + i * PACKET_MS
                stream.add(at, EVENT_PAYLOAD_TYPE, start_ts, event, i == 0)
            # the end packet, sent three times as RFC 4733 recommends
            for i in range(3):
                event = struct.pack(">BBH", EVENTS[char], 0x80 | 10, duration)
                at = clock_ms + (steps + i) * PACKET_MS
                stream.add(at, EVENT_PAYLOAD_TYPE, start_ts, event, False)
            clock_ms += tone_ms + gap_ms
        else:
            raise ValueError(f"cannot send {char!r} (position {index} of {script!r})")
    path.write_bytes(stream.pcap())
    return clock_ms / 1000

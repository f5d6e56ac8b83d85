"""The caller RTP the testbed phones send: DTMF events, voice and silence in one stream."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from sip_testbed import rtp_pcap


def _packets(path: Path) -> list[tuple[int, int, int, bytes]]:
    """(payload type, sequence, timestamp, payload) of each packet in the pcap."""
    data = path.read_bytes()[24:]
    out = []
    while data:
        _, _, length, _ = struct.unpack("<IIII", data[:16])
        frame, data = data[16 : 16 + length], data[16 + length :]
        rtp = frame[14 + 20 + 8 :]
        out.append((rtp[1] & 0x7F, *struct.unpack(">HI", rtp[2:8]), rtp[12:]))
    return out


@pytest.mark.parametrize(
    ("sample", "code"), [(0, 0xFF), (-1, 0x7E), (1000, 0xCE), (-5000, 0x2B), (32767, 0x80)]
)
def test_ulaw_matches_g711(sample: int, code: int) -> None:
    assert rtp_pcap.ulaw(sample) == code


def test_repeated_digits_are_distinct_events(tmp_path: Path) -> None:
    length = rtp_pcap.write("55,", tmp_path / "d.pcap")
    packets = _packets(tmp_path / "d.pcap")
    assert length == pytest.approx(2.2)
    seqs = [p[1] for p in packets]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    starts = {p[2] for p in packets}
    assert len(starts) == 2  # one timestamp per key press, so neither is a retransmission
    assert all(p[0] == rtp_pcap.EVENT_PAYLOAD_TYPE and p[3][0] == 5 for p in packets)


def test_voice_and_silence_are_pcmu_frames(tmp_path: Path) -> None:
    rtp_pcap.write("~_", tmp_path / "v.pcap")
    packets = _packets(tmp_path / "v.pcap")
    assert len(packets) == 100 and {p[0] for p in packets} == {rtp_pcap.PCMU_PAYLOAD_TYPE}
    voice, silence = packets[:50], packets[50:]
    assert any(set(p[3]) - {0xFF, 0x7F} for p in voice)
    assert all(p[3] == rtp_pcap.PCMU_SILENCE for p in silence)
    assert [p[2] for p in packets[:2]] == [0, 160]


def test_unknown_characters_name_their_position(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="position 1"):
        rtp_pcap.write("1x", tmp_path / "bad.pcap")

"""What the integration tests read from Asterisk's recordings."""

from __future__ import annotations

import array
import asyncio
import math
import time
import wave
from pathlib import Path


def wav_figures(path: Path) -> tuple[float, float]:
    """(length in seconds, seconds of 20 ms frames louder than -40 dBFS) of a 16-bit WAV."""
    with wave.open(str(path)) as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = array.array("h", frames)
    step = rate // 50
    loud = 0
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        rms = math.sqrt(sum(s * s for s in chunk) / max(1, len(chunk)))
        loud += rms > 32768 * 0.01
    return len(samples) / rate, loud / 50


async def wait_until_written(path: Path, timeout: float = 20) -> None:
    """MixMonitor sets the WAV header's sizes when the leg ends and it closes the file."""
    deadline = time.monotonic() + timeout
    while True:
        data = path.read_bytes() if path.exists() else b""
        riff_size = int.from_bytes(data[4:8], "little")
        if len(data) > 44 and data[8:12] == b"WAVE" and riff_size == len(data) - 8:
            return
        assert time.monotonic() < deadline, f"{path} was not written"
        await asyncio.sleep(0.5)

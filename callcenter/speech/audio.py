"""Voicemail audio normalization with pydub: 8 kHz mono 16-bit WAV at a steady loudness."""

from __future__ import annotations

import asyncio
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is absent (WAV in and out needs none) and about the
    # standard library's audioop, which it uses and Python 3.11 still has
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

TELEPHONE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes: 16-bit signed PCM, what Asterisk records and plays as wav
# average loudness a voicemail is brought to, and the peak ceiling no gain may cross
TARGET_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0


class AudioError(Exception):
    """A recording cannot be read or written."""

    code = "audio_unreadable"


@dataclass(frozen=True, slots=True)
class AudioInfo:
    path: Path
    seconds: float
    sample_rate: int
    # average loudness after normalization; None for a silent recording
    dbfs: float | None
    gain_db: float


def normalize_file(source: Path, target: Path) -> AudioInfo:
    """Convert `source` to 8 kHz mono 16-bit WAV at `target`, loudness normalized.

    Quiet callers are raised to TARGET_DBFS unless that would push a peak over
    PEAK_CEILING_DBFS; loud ones are lowered. Silence is left alone, never amplified into noise.
    CPU-bound: call it through `normalize_voicemail` from async code."""
    try:
        segment = AudioSegment.from_file(source)
    except Exception as err:  # pydub raises bare Exceptions and ffmpeg errors alike
        raise AudioError(f"{source}: cannot read audio ({err})") from err
    segment = segment.set_sample_width(SAMPLE_WIDTH).set_channels(1).set_frame_rate(TELEPHONE_RATE)
    gain = 0.0
    if segment.rms > 0:
        gain = min(TARGET_DBFS - segment.dBFS, PEAK_CEILING_DBFS - segment.max_dBFS)
        segment = segment.apply_gain(gain)
    # write beside the target and rename, so nobody ever reads half a file
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        segment.export(partial, format="wav")
        partial.replace(target)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise AudioError(f"{target}: cannot write audio ({err.strerror})") from err
    dbfs = segment.dBFS if segment.rms > 0 else None
    return AudioInfo(
        path=target,
        seconds=len(segment) / 1000,
        sample_rate=segment.frame_rate,
        dbfs=None if dbfs is None or math.isinf(dbfs) else dbfs,
        gain_db=gain,
    )


async def normalize_voicemail(source: Path, target: Path) -> AudioInfo:
    """`normalize_file` in a worker thread, so the event loop keeps serving calls."""
    return await asyncio.to_thread(normalize_file, source, target)

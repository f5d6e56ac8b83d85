"""Voicemail transcripts with vosk: the model loaded once, recognition in a worker thread."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

TranscriptStatus = Literal["done", "pending", "failed"]
CHUNK_FRAMES = 4000


@dataclass(frozen=True, slots=True)
class Transcript:
    """`pending` when no model is configured: the text is never made up. `detail` says why a
    transcript is pending or failed."""

    status: TranscriptStatus
    text: str = ""
    detail: str = ""
    model: str = ""


class Transcriber:
    """Transcribes 16-bit mono WAV files with one vosk model, loaded on first use.

    `grammar` restricts recognition to the given words or phrases (add "[unk]" to allow
    anything else to come out as [unk]); useful for short, known answers."""

    def __init__(
        self,
        model_path: Path | None,
        *,
        grammar: Sequence[str] | None = None,
        max_parallel: int = 1,
    ) -> None:
        self.model_path = model_path
        self.grammar = tuple(grammar) if grammar else None
        self._model: Any = None
        self._load_lock = threading.Lock()
        # recognition takes a core while it runs; on a small machine the calls come first
        self._slots = asyncio.Semaphore(max_parallel)

    @property
    def configured(self) -> bool:
        return self.model_path is not None

    async def transcribe(self, audio: Path, grammar: Sequence[str] | None = None) -> Transcript:
        """The transcript of `audio`, recognized in a worker thread."""
        if self.model_path is None:
            return self._pending()
        async with self._slots:
            return await asyncio.to_thread(self.transcribe_sync, audio, grammar)

    def transcribe_sync(self, audio: Path, grammar: Sequence[str] | None = None) -> Transcript:
        if self.model_path is None:
            return self._pending()
        name = self.model_path.name
        try:
            model = self._loaded_model()
        except Exception as err:  # vosk raises a bare Exception for a bad model directory
            log.error("vosk model %s cannot be loaded: %s", self.model_path, err)
            return Transcript("failed", detail=f"model cannot be loaded: {err}", model=name)
        try:
            text = self._recognize(model, audio, grammar or self.grammar)
        except (OSError, EOFError, wave.Error, ValueError) as err:
            log.warning("voicemail %s cannot be transcribed: %s", audio, err)
            return Transcript("failed", detail=str(err), model=name)
        return Transcript("done", text=text, model=name)

    def _pending(self) -> Transcript:
        return Transcript("pending", detail="no vosk model configured (CALLCENTER_VOSK_MODEL)")

    def _loaded_model(self) -> Any:
        with self._load_lock:
            if self._model is None:
                import vosk

                # Kaldi logs every utterance to stderr; failures still raise
                vosk.SetLogLevel(-1)
                self._model = vosk.Model(str(self.model_path))
            return self._model

    @staticmethod
    def _recognize(model: Any, audio: Path, grammar: Sequence[str] | None) -> str:
        import vosk

        with wave.open(str(audio), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2 or wav.getcomptype() != "NONE":
                raise ValueError(f"{audio}: want 16-bit mono PCM WAV; normalize it first")
            args = [json.dumps(list(grammar), ensure_ascii=False)] if grammar else []
            # vosk resamples to the model's rate itself, so 8 kHz telephone audio goes in as is
            recognizer = vosk.KaldiRecognizer(model, wav.getframerate(), *args)
            parts: list[str] = []
            while chunk := wav.readframes(CHUNK_FRAMES):
                if recognizer.AcceptWaveform(chunk):
                    parts.append(json.loads(recognizer.Result()).get("text", ""))
            parts.append(json.loads(recognizer.FinalResult()).get("text", ""))
        return " ".join(part for part in parts if part)

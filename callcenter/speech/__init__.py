"""Voicemail audio: pydub normalization to the telephone format and vosk transcription."""

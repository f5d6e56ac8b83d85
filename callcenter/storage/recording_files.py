"""Recording files the engine wrote: a voicemail named by its call, a recording safe to serve."""

from __future__ import annotations

import re
from pathlib import Path

# an Asterisk uniqueid/linkedid, which names a voicemail file: <voicemail dir>/<linkedid>.wav
VOICEMAIL_ID = re.compile(r"^[0-9]{1,20}\.[0-9]{1,10}$")


class RecordingFiles:
    """Where the engine keeps recordings, and the only paths the API hands out or serves.

    Clients never name a file: a ticket refers to a call (and takes its recording) or to a
    voicemail by its call's id; a stored path is served only if it resolves inside the
    recordings folder, whatever a row says."""

    def __init__(self, recordings_dir: Path, voicemail_dir: Path) -> None:
        self.recordings_dir = recordings_dir
        self.voicemail_dir = voicemail_dir

    def voicemail(self, linkedid: str) -> str | None:
        """The path of a recorded voicemail, as the voicemail desk files it (the normalised
        copy when there is one), or None when the engine recorded no such message."""
        if not VOICEMAIL_ID.match(linkedid):
            return None
        raw = self.voicemail_dir / f"{linkedid}.wav"
        for candidate in (raw.with_name(f"{linkedid}.norm.wav"), raw):
            if candidate.is_file() and not candidate.is_symlink():
                return str(candidate)
        return None

    def servable(self, stored: str) -> Path | None:
        """The file a stored recording path names, if it is a regular file inside the
        recordings folder once every link and `..` is resolved; None otherwise."""
        if not stored or "\x00" in stored:
            return None
        try:
            root = self.recordings_dir.resolve()
            path = Path(stored).resolve()
        except (OSError, RuntimeError):
            return None
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

"""Prompt files: one prompt per line of a UTF-8 text file, blank lines and ``#`` comments skipped."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PromptFileError", "read_prompts"]


class PromptFileError(ValueError):
    """A prompt file that cannot be read (names the file and line)."""


def read_prompts(path) -> list[tuple[int, str]]:
    """(line number, prompt) for every non-blank, non-``#`` line of a UTF-8 text file.

    Raises:
        PromptFileError naming the file and the first line that is not UTF-8.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PromptFileError(f"cannot read prompt file {path}: {e.strerror or e}") from e
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    out = []
    for n, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            raise PromptFileError(f"{path}, line {n}: not UTF-8 text (byte 0x{line[e.start]:02x} at column "
                                  f"{e.start + 1}); save the file as UTF-8") from None
        if text and not text.startswith("#"):
            out.append((n, text))
    return out

"""Reading user files: one place that turns OS errors into one-line reasons."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FileLineError", "UnreadableFile", "read_utf8"]


class UnreadableFile(Exception):
    """A file that could not be read as UTF-8 text; ``reason`` is one short line."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class FileLineError(ValueError):
    """A problem in a user's file: ``str()`` is ``file[:line]: what is wrong``."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


def read_utf8(path: str | Path) -> str:
    """The text of ``path``; every failure is an ``UnreadableFile`` naming the reason."""
    name = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableFile(name, "no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(name, "is a directory, expected a file") from None
    except PermissionError:
        raise UnreadableFile(name, "permission denied") from None
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            name, f"not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise UnreadableFile(name, error.strerror or str(error)) from None

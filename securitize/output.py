"""Writing run outputs: all or nothing, never over an existing file unless asked.

Every file is first written to a temporary file in the target folder and then renamed into
place, so a reader never sees a half-written memo, and an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from securitize.errors import OutputExistsError, SecuritizeError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_option(value: str | None, option: str = "--out") -> Path | None:
    """The path an output option names (None when not given); an empty value is refused."""
    if value is None:
        return None
    if not value.strip():
        raise SecuritizeError(f"{option}: empty value {value!r}; name a file or folder")
    return Path(value)


def check_destination(folder: Path, names: list[str], *, force: bool = False) -> None:
    """Refuse, before any work is done, outputs that could not be written: an existing file
    (without ``force``), a folder that is a file, or a folder that cannot be created or written."""
    if not force:
        for name in names:
            if (folder / name).exists():
                raise OutputExistsError(
                    f"{folder / name}: already exists; pass --force to overwrite it, "
                    "or --out to write somewhere else"
                )
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SecuritizeError(f"{existing}: is a file, so {folder} cannot be an output folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SecuritizeError(f"{existing}: not writable, so the outputs cannot be written")


def write_outputs(folder: Path, files: dict[str, bytes], *, force: bool = False) -> list[Path]:
    """Write ``files`` (name → content) into ``folder``; refuse to overwrite without ``force``."""
    targets = [folder / name for name in files]
    check_destination(folder, list(files), force=force)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SecuritizeError(f"{folder}: cannot create output folder ({exc.strerror})") from None
    staged: list[tuple[Path, Path]] = []
    try:
        for target, content in zip(targets, files.values(), strict=True):
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
            # Staged before the write, so a write that fails (a full disk) is removed too.
            staged.append((Path(temporary), target))
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            # mkstemp makes owner-only files; outputs get the usual permissions (umask applies).
            os.chmod(temporary, 0o666 & ~_umask())
        for temporary, target in staged:
            os.replace(temporary, target)
    except OSError as exc:
        raise SecuritizeError(f"{folder}: cannot write outputs ({exc.strerror})") from None
    finally:
        for temporary, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    return targets

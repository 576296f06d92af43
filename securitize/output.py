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


def write_outputs(folder: Path, files: dict[str, bytes], *, force: bool = False) -> list[Path]:
    """Write ``files`` (name → content) into ``folder``; refuse to overwrite without ``force``."""
    targets = [folder / name for name in files]
    if not force:
        for target in targets:
            if target.exists():
                raise OutputExistsError(
                    f"{target}: already exists; pass --force to overwrite it, "
                    "or --out to write somewhere else"
                )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SecuritizeError(f"{folder}: cannot create output folder ({exc.strerror})") from None
    staged: list[tuple[Path, Path]] = []
    try:
        for target, content in zip(targets, files.values(), strict=True):
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            # mkstemp makes owner-only files; outputs get the usual permissions (umask applies).
            os.chmod(temporary, 0o666 & ~_umask())
            staged.append((Path(temporary), target))
        for temporary, target in staged:
            os.replace(temporary, target)
    except OSError as exc:
        raise SecuritizeError(f"{folder}: cannot write outputs ({exc.strerror})") from None
    finally:
        for temporary, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    return targets

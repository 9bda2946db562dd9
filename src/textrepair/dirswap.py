"""Replace a directory with a new one without ever losing both (releases, cached base models).

    lock .<name>.lock ─▶ <name> renamed aside to .<name>.old-<nonce> ─▶ new renamed to <name>
                     ─▶ the aside copy deleted (put back if the new one could not be moved in)

Readers see the old directory or the new one, never a half-written one; an error or a crash
between the two renames leaves the old directory aside, and the next replacement puts it back
before it starts. Two processes replacing the same directory take turns on the lock file.
"""

from __future__ import annotations

import glob
import shutil
import uuid
from pathlib import Path

from filelock import FileLock

# Seconds to wait for another process's replacement of the same directory.
LOCK_TIMEOUT_SECONDS = 600.0


def lock_for(target: Path) -> FileLock:
    """The file lock that serialises replacements of `target` (next to it, hidden)."""
    return FileLock(target.with_name(f".{target.name}.lock"), timeout=LOCK_TIMEOUT_SECONDS)


def replace_dir(new: Path, target: Path) -> Path:
    """Move the finished directory `new` to `target`, replacing what is there; return `target`.

    `new` must be on the same filesystem as `target` (write it next to `target`).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(target):
        _restore_interrupted(target)
        aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        if target.exists():
            target.rename(aside)
        try:
            new.rename(target)
        except BaseException:
            if aside.exists():
                aside.rename(target)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    return target


def _restore_interrupted(target: Path) -> None:
    """Put back an old directory a crashed replacement left aside, or drop it if it is stale."""
    for aside in sorted(target.parent.glob(f".{glob.escape(target.name)}.old-*")):
        if target.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.rename(target)

"""The krew archive and manifest: `python -m shortlink_plugin.krew [DIR]`.

krew installs a plugin from an archive named in a manifest, checked by its SHA-256. The archive
holds `plugin/krew/kubectl-shortlink`, a launcher for the installed Python package, and is built
byte for byte the same every time (fixed times, owners and order), so the SHA-256 in the checked-in
manifest (`plugin/krew/shortlink.yaml`) can be compared with a fresh build by a test. Running this
module from a source checkout (the launcher is not in the wheel) writes the archive into DIR
(default `dist/`) and prints its SHA-256.
"""

import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path
from typing import Final

KREW: Final = Path(__file__).resolve().parents[1] / "krew"
LAUNCHER: Final = KREW / "kubectl-shortlink"
MANIFEST: Final = KREW / "shortlink.yaml"
ARCHIVE_NAME: Final = "kubectl-shortlink.tar.gz"


def archive_bytes() -> bytes:
    """The archive, deterministic: one executable file, mtime 0, owned by root."""
    payload = LAUNCHER.read_bytes()
    info = tarfile.TarInfo("kubectl-shortlink")
    info.size, info.mode, info.mtime = len(payload), 0o755, 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(payload))
    return gzip.compress(raw.getvalue(), mtime=0)


def sha256() -> str:
    return hashlib.sha256(archive_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else "dist")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ARCHIVE_NAME).write_bytes(archive_bytes())
    sys.stdout.write(f"{directory / ARCHIVE_NAME}\nsha256: {sha256()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

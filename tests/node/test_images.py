"""The images as built (README "Container images"): at most 150 MB each, Python and Debian's
record of its packages inside, and no shell, package manager or other tool beside it.
"""

import json
import subprocess

import pytest

from shortlink_localcluster.release import IMAGE_TAG, build_images

IMAGES = (f"shortlink-operator:{IMAGE_TAG}", f"shortlink-redirector:{IMAGE_TAG}")
SIZE_GOAL = 150_000_000  # bytes, as `docker image inspect` counts them
NOT_INSIDE = ("sh", "bash", "dash", "apt-get", "dpkg", "perl", "ls", "tar", "useradd")


@pytest.fixture(scope="module")
def images() -> tuple[str, ...]:
    build_images()
    return IMAGES


def python_in(image: str, code: str) -> str:
    return subprocess.run(
        ["docker", "run", "--rm", "--read-only", "--entrypoint", "python3", image, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def test_each_image_is_at_most_150_mb(images: tuple[str, ...]) -> None:
    for image in images:
        inspected = subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, text=True, check=True
        )
        (found,) = json.loads(inspected.stdout)
        assert found["Size"] <= SIZE_GOAL, (image, found["Size"])
        assert found["Config"]["User"] == "65532:65532"


def test_the_images_hold_python_and_nothing_to_run_beside_it(images: tuple[str, ...]) -> None:
    for image in images:
        found = python_in(
            image, f"import shutil; print([t for t in {NOT_INSIDE!r} if shutil.which(t)])"
        )
        assert found.strip() == "[]", (image, found)
        # Scanners read the packages from dpkg's record: it lists what is inside, and only that.
        status = python_in(image, "print(open('/var/lib/dpkg/status').read())")
        packages = {line.split()[1] for line in status.splitlines() if line.startswith("Package:")}
        assert {"python3", "python3.11-minimal", "libc6", "libstdc++6"} <= packages
        assert not packages & {"apt", "dpkg", "bash", "perl-base", "coreutils"}
        assert python_in(image, "import getpass; print(getpass.getuser())").strip() == "shortlink"

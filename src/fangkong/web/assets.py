"""Installing the front-end libraries listed in assets.lock.json from the npm registry.

Run once at install time (the README's commands do it). Nothing is fetched at run time:
pages only reference /static/vendor/..., served from this package's directory.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import tempfile
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from fangkong.errors import ConfigError

VENDOR_DIR = Path(str(resources.files("fangkong.web"))) / "static" / "vendor"
REGISTRY_ENV = "FANGKONG_NPM_REGISTRY"


def lock() -> list[dict[str, Any]]:
    text = resources.files("fangkong.web").joinpath("assets.lock.json").read_text("utf-8")
    packages: list[dict[str, Any]] = json.loads(text)["packages"]
    return packages


def missing(vendor: Path = VENDOR_DIR) -> list[str]:
    return [dest for pkg in lock() for dest in pkg["files"].values() if not (vendor / dest).exists()]


def _verify(data: bytes, integrity: str, name: str) -> None:
    algo, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if digest != expected:
        raise ConfigError(f"{name}: downloaded tarball does not match its integrity {integrity}")


def _fetch(url: str) -> bytes:
    registry = os.environ.get(REGISTRY_ENV)
    if registry:
        url = url.replace("https://registry.npmjs.org", registry.rstrip("/"))
    with urllib.request.urlopen(url, timeout=60) as resp:
        data: bytes = resp.read()
        return data


def install(vendor: Path = VENDOR_DIR, *, force: bool = False) -> list[str]:
    """Download, verify and unpack every locked package; return what was installed."""
    done: list[str] = []
    for pkg in lock():
        targets = {src: vendor / dest for src, dest in pkg["files"].items()}
        if not force and all(t.exists() for t in targets.values()):
            continue
        data = _fetch(pkg["tarball"])
        _verify(data, pkg["integrity"], pkg["name"])
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for src, target in targets.items():
                member = tar.extractfile(src)
                if member is None:
                    raise ConfigError(f"{pkg['name']}: {src} not found in {pkg['tarball']}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                    tmp.write(member.read())
                os.replace(tmp.name, target)
        done.append(f"{pkg['name']}@{pkg['version']}")
    return done

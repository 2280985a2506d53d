"""Where the event handlers live. Importing a module registers its handlers; both the
in-process worker and `fangkong worker` call `load_handlers()` first."""

from __future__ import annotations

import importlib

HANDLER_MODULES: tuple[str, ...] = (
    "fangkong.case.handlers",
    "fangkong.contact.upgrade",
    "fangkong.nat.flows",
)


def load_handlers() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)

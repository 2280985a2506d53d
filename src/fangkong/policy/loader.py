"""Reading profiles: YAML → resolved `extends` chain → strict validation → checksum.

Every problem is reported with the file, the line and the reason; nothing half-valid is
ever returned. `extends` names another profile (looked up next to the file, then among the
shipped profiles); the child's keys override the parent's (mappings merge key by key, lists and
values are replaced). A cycle in `extends` is an error.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fangkong.errors import ErrorDetail, PolicyError
from fangkong.policy.schema import Profile

SHIPPED = "fangkong.policy.profiles"


class _Loader(yaml.SafeLoader):
    """YAML 1.1 without its surprises: only true/false are booleans (`mode: off` stays a
    string, as does `yes`)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


@dataclass(frozen=True)
class LoadedProfile:
    profile: Profile
    checksum: str
    path: str
    chain: tuple[str, ...] = field(default=())  # profile ids from this one up to the root

    @property
    def id(self) -> str:
        return self.profile.profile_id

    @property
    def version(self) -> int:
        return self.profile.version


@dataclass
class _Source:
    path: str
    data: dict[str, Any]
    lines: dict[tuple[str, ...], int]


def _error(path: str, line: int | None, field_path: str, reason: str) -> PolicyError:
    where = f"{path}:{line}" if line else path
    return PolicyError(
        f"{where}: {field_path}: {reason}" if field_path else f"{where}: {reason}",
        [ErrorDetail(field_path or "profile", reason, path, line)],
        code="invalid_profile",
    )


def _read(path: Path) -> _Source:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise _error(str(path), None, "", "file not found") from None
    except UnicodeDecodeError as exc:
        raise _error(str(path), None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_text(text, str(path))


def parse_text(text: str, path: str = "<text>") -> _Source:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise _error(path, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if node is None or not isinstance(node, yaml.MappingNode):
        raise _error(path, 1, "", "a profile is a YAML mapping (key: value lines)")
    lines: dict[tuple[str, ...], int] = {}
    data = _construct(node, (), lines, path)
    return _Source(path, data, lines)


def _construct(node: yaml.Node, where: tuple[str, ...], lines: dict[tuple[str, ...], int], path: str) -> Any:
    lines.setdefault(where, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _error(path, key_node.start_mark.line + 1, ".".join(where), "keys must be names")
            key = str(key_node.value)
            if key in out:
                raise _error(path, key_node.start_mark.line + 1, ".".join((*where, key)), "key given twice")
            lines[(*where, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*where, key), lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*where, str(i)), lines, path) for i, item in enumerate(node.value)]
    loader = _Loader("")
    return loader.construct_object(node, deep=True)


def _merge(
    parent: dict[str, Any], child: _Source, node: dict[str, Any] | None = None, where: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The child's keys over the parent's: mappings merge key by key, other values replace,
    and `key: null` removes the parent's key (e.g. a risk level a city drops). Removing a key
    the parent does not have is an error (a typo would otherwise pass unnoticed)."""
    out = dict(parent)
    for key, value in (child.data if node is None else node).items():
        at = (*where, key)
        if value is None:
            if key not in out:
                raise _error(
                    child.path,
                    child.lines.get(at),
                    ".".join(at),
                    "null removes a key of the parent profile, but the parent has no such key",
                )
            del out[key]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], child, value, at)
        else:
            out[key] = value
    return out


def _find(profile_id: str, near: Path | None, search: tuple[Path, ...]) -> Path | None:
    folders: list[Path] = ([near] if near else []) + list(search)
    candidates = [d / f"{profile_id}.yaml" for d in folders]
    for c in candidates:
        if c.exists():
            return c
    shipped = Path(str(resources.files(SHIPPED))) / f"{profile_id}.yaml"
    return shipped if shipped.is_file() else None


def load(path: Path | str, *, search: tuple[Path, ...] = ()) -> LoadedProfile:
    """Load and validate the profile file at `path`, resolving `extends`."""
    path = Path(path)
    sources = [_read(path)]
    chain = [str(sources[0].data.get("profile_id", path.stem))]
    while True:
        current = sources[-1]
        parent_id = current.data.get("extends")
        if parent_id is None:
            break
        if not isinstance(parent_id, str):
            raise _error(current.path, current.lines.get(("extends",)), "extends", "must be a profile id")
        if parent_id in chain:
            raise _error(
                current.path,
                current.lines.get(("extends",)),
                "extends",
                f"cycle in extends: {' → '.join([*chain, parent_id])}",
            )
        found = _find(parent_id, Path(current.path).parent, search)
        if found is None:
            raise _error(
                current.path,
                current.lines.get(("extends",)),
                "extends",
                f"no profile {parent_id!r} next to this file or among the shipped profiles",
            )
        sources.append(_read(found))
        chain.append(parent_id)
    data: dict[str, Any] = dict(sources[-1].data)  # the root: its own nulls are plain values
    for src in reversed(sources[:-1]):
        data = _merge(data, src)
    data["extends"] = sources[0].data.get("extends")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, sources) from None
    _check_unconfirmed(data, sources)
    if (
        profile.profile_id != path.stem
        and path.suffix in (".yaml", ".yml")
        and path.parent.name == "profiles"
    ):
        raise _error(
            str(path),
            sources[0].lines.get(("profile_id",)),
            "profile_id",
            f"the file of profile {profile.profile_id} must be named {profile.profile_id}.yaml",
        )
    return LoadedProfile(profile, checksum(profile), str(path), tuple(chain))


def loads(text: str, *, name: str = "<text>", search: tuple[Path, ...] = ()) -> LoadedProfile:
    """Validate profile text (e.g. an upload); `extends` is looked up in `search` and shipped.
    Errors name `name`, not the temporary file the text is checked in."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / (Path(name).name if name.endswith((".yaml", ".yml")) else "profile.yaml")
        target.write_text(text, encoding="utf-8")
        try:
            loaded = load(target, search=search)
        except PolicyError as exc:
            raise _renamed(exc, str(target), name) from None
    return LoadedProfile(loaded.profile, loaded.checksum, name, loaded.chain)


def _renamed(exc: PolicyError, old: str, new: str) -> PolicyError:
    details = [ErrorDetail(d.field, d.reason, new if d.value == old else d.value, d.row) for d in exc.details]
    return PolicyError(exc.message.replace(old, new), details, code=exc.code, status=exc.status)


def _validation_error(exc: ValidationError, sources: list[_Source]) -> PolicyError:
    details = []
    for err in exc.errors(include_url=False):
        loc = tuple(str(p) for p in err["loc"])
        # pydantic reports a wrong dict key as loc (..., key, "[key]")
        loc = tuple(p for p in loc if not p.endswith("[key]"))
        path, line = _locate(loc, sources)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the profile format; see docs/policy-profiles.md)"
        elif err["type"] == "literal_error" and "measures" in loc[:1]:
            msg = f"unknown category; {msg}"
        details.append(ErrorDetail(".".join(loc) or "profile", msg, path, line))
    first = details[0]
    where = f"{first.value}:{first.row}" if first.row else str(first.value)
    more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
    return PolicyError(f"{where}: {first.field}: {first.reason}{more}", details, code="invalid_profile")


def _check_unconfirmed(data: dict[str, Any], sources: list[_Source]) -> None:
    """Every `unconfirmed` entry must name a key of the profile (a typo would hide a doubt)."""
    for i, entry in enumerate(data.get("unconfirmed") or []):
        node: Any = data
        for part in str(entry).split("."):
            if not isinstance(node, dict) or part not in node:
                path, line = _locate(("unconfirmed", str(i)), sources)
                raise _error(path, line, f"unconfirmed.{i}", f"{entry!r} is not a key of this profile")
            node = node[part]


def _locate(loc: tuple[str, ...], sources: list[_Source]) -> tuple[str, int | None]:
    """The file and line that wrote the value at `loc` (the nearest written ancestor)."""
    for depth in range(len(loc), -1, -1):
        prefix = loc[:depth]
        for src in sources:  # the child first: it overrides
            if prefix in src.lines:
                return src.path, src.lines[prefix]
    return sources[0].path, None


def checksum(profile: Profile) -> str:
    canonical = json.dumps(
        profile.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def shipped_ids() -> list[str]:
    files = resources.files(SHIPPED)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_shipped(profile_id: str) -> LoadedProfile:
    path = _find(profile_id, None, ())
    if path is None:
        raise PolicyError(
            f"unknown profile {profile_id!r}; shipped: {', '.join(shipped_ids())}",
            [ErrorDetail("profile", "unknown profile", profile_id)],
            code="not_found",
            status=404,
        )
    return load(path)

"""Golden scenarios of the policy engine: facts in, decisions out.

Each file in tests/policy/golden/ holds the scenarios of one profile:

    profile: cn-9th                       # a shipped profile, or
    profile_file: profiles/city-shadow.yaml   # a test-local one, relative to golden/
    checksum: 389af0c5…                   # the checksum of the profile the outputs were made with
    scenarios:
      - name: close contact, the issue's example
        as_of: '2022-07-03T12:00:00+08:00'
        facts:
          categories:
            - {category: close_contact, at: '2022-07-01', setting: venue, place: 春熙路商场}
          tests:
            - {sampled_at: '2022-07-08T09:00:00+08:00', result: positive, ct: {N: 36, ORF: 37}}
        expected: …   # Evaluation.as_dict() without the checksums

`expected` is written by this script and only by it; pytest never writes. To add a scenario,
write its name, as_of and facts, then run

    .venv/bin/python tests/policy/refresh_golden.py            # rewrite expected and checksum
    .venv/bin/python tests/policy/refresh_golden.py --check    # exit 1 if anything would change

and review the diff (git diff tests/policy/golden) before committing it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from fangkong.policy.facts import Facts
    from fangkong.policy.loader import LoadedProfile

GOLDEN = Path(__file__).resolve().parent / "golden"
HEADER_KEYS = ("profile", "profile_file", "checksum", "scenarios")
SCENARIO_KEYS = ("name", "as_of", "facts", "expected")
REFRESH = "python tests/policy/refresh_golden.py"


def golden_files() -> list[Path]:
    """The scenario files (the test-local profiles they use live in golden/profiles/)."""
    return sorted(GOLDEN.glob("*.yaml"))


def read(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("scenarios"), list):
        raise ValueError(f"{path}: a golden file is a mapping with a list of scenarios")
    unknown = set(doc) - set(HEADER_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    return doc


def load_profile(doc: dict[str, Any]) -> LoadedProfile:
    from fangkong.policy.loader import load, load_shipped

    if doc.get("profile_file"):
        return load(GOLDEN / str(doc["profile_file"]))
    return load_shipped(str(doc["profile"]))


def parse_when(value: Any, what: str) -> dt.date | dt.datetime:
    """A plain date (a local calendar day) or an aware time, as written in a golden file."""
    if isinstance(value, dt.datetime):
        at = value
    elif isinstance(value, dt.date):
        return value
    else:
        text = str(value)
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        at = dt.datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"{what}: {value!r} needs a time zone, e.g. 2022-07-01T09:00:00+08:00")
    return at


def parse_aware(value: Any, what: str) -> dt.datetime:
    at = parse_when(value, what)
    if not isinstance(at, dt.datetime):
        raise ValueError(f"{what}: {value!r} must be a time with a zone, not a date")
    return at


def facts_from(raw: dict[str, Any]) -> Facts:
    from fangkong.policy.facts import CategoryFact, Facts, TestFact

    categories = tuple(
        CategoryFact(
            category=str(c["category"]),
            at=parse_when(c["at"], "facts.categories.at"),
            setting=c.get("setting"),
            place=c.get("place"),
            source=c.get("source"),
            close_contact_positive=bool(c.get("close_contact_positive", False)),
        )
        for c in raw.get("categories") or []
    )
    tests = tuple(
        TestFact(
            sampled_at=parse_aware(t["sampled_at"], "facts.tests.sampled_at"),
            result=t["result"],
            ct={str(g): float(v) for g, v in (t.get("ct") or {}).items()},
        )
        for t in raw.get("tests") or []
    )
    return Facts(categories=categories, tests=tests)


def outcome(loaded: LoadedProfile, scenario: dict[str, Any]) -> dict[str, Any]:
    """What the engine answers for one scenario: Evaluation.as_dict() without the checksums
    (the file keeps the checksum once, in its header)."""
    from fangkong.policy.engine import evaluate

    ev = evaluate(loaded, facts_from(scenario.get("facts") or {}), parse_aware(scenario["as_of"], "as_of"))
    out = ev.as_dict()
    out.pop("checksum")
    for decision in out["decisions"]:
        decision.pop("checksum")
    return out


def dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=False)


def render(path: Path, doc: dict[str, Any], loaded: LoadedProfile) -> str:
    """The file's new text: its leading comment kept, expected outputs and checksum refreshed."""
    text = path.read_text("utf-8")
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line)
    new: dict[str, Any] = {}
    if doc.get("profile_file"):
        new["profile_file"] = doc["profile_file"]
    else:
        new["profile"] = doc["profile"]
    new["checksum"] = loaded.checksum
    new["scenarios"] = [
        {
            **{k: s[k] for k in ("name", "as_of", "facts") if k in s},
            "expected": outcome(loaded, s),
        }
        for s in doc["scenarios"]
    ]
    head = "\n".join(comment) + "\n" if comment else ""
    return head + dump(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh the expected outputs of the golden scenarios.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    parser.add_argument("files", nargs="*", type=Path, help="golden files (default: all)")
    args = parser.parse_args(argv)
    changed = []
    for path in args.files or golden_files():
        doc = read(path)
        loaded = load_profile(doc)
        text = render(path, doc, loaded)
        if text != path.read_text("utf-8"):
            changed.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "would change" if args.check else "rewritten"
    for path in changed:
        print(f"{verb}: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if not changed:
        print("golden files are up to date")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    sys.exit(main())

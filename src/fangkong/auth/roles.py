"""Roles and the registry of named actions.

One table says which role may do which action; `fangkong.auth.authorize.authorize` is the
only place that reads it. Later domains add their actions here. docs/roles-and-permissions.md
describes every action (a test checks that the two agree).
"""

from __future__ import annotations

ROLES: tuple[str, ...] = (
    "commander",
    "epidemiologist",
    "tracer",
    "community_worker",
    "checkpoint_staff",
    "sampler",
    "lab_staff",
    "quarantine_manager",
    "supply_officer",
    "auditor",
    "admin",
    "resident",
)

STAFF: frozenset[str] = frozenset(ROLES) - {"resident"}
_FIELD = frozenset(
    {
        "commander",
        "epidemiologist",
        "tracer",
        "community_worker",
        "checkpoint_staff",
        "sampler",
        "quarantine_manager",
        "admin",
    }
)
_PII = frozenset({"epidemiologist", "tracer", "community_worker", "quarantine_manager"})
_REGISTRARS = frozenset({"epidemiologist", "tracer", "community_worker", "admin"})

# action -> (roles allowed, description)
_TRACERS = frozenset({"epidemiologist", "tracer"})
_COMMAND = frozenset({"commander", "epidemiologist", "tracer", "admin"})

ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "area.read": (STAFF, "See areas (the division tree)"),
    "area.manage": (
        frozenset({"admin", "commander"}),
        "Load the national division list; add communities and grids",
    ),
    "person.read": (_FIELD, "List, search and view persons (personal data masked)"),
    "person.read_pii": (
        _PII,
        "View a person's unmasked name, ID number, phone and address, with a stated reason (audited)",
    ),
    "person.create": (_REGISTRARS, "Register a person"),
    "person.update": (_REGISTRARS, "Change a person's record"),
    "person.delete": (frozenset({"admin"}), "Delete a person registered by mistake"),
    "person.merge": (
        frozenset({"community_worker", "epidemiologist", "admin"}),
        "Merge duplicate person records (history kept)",
    ),
    "person.import": (frozenset({"community_worker", "admin"}), "Import persons and households from a sheet"),
    "person.export": (
        frozenset({"commander", "epidemiologist", "community_worker", "admin"}),
        "Export lists of persons (masked unless read_pii and a reason)",
    ),
    "household.read": (_FIELD, "View households"),
    "household.manage": (_REGISTRARS, "Create, change and delete households"),
    "place.read": (STAFF, "View venues"),
    "place.manage": (
        frozenset({"admin", "community_worker", "commander"}),
        "Create, change, delete and import venues",
    ),
    "unit.read": (STAFF, "View units"),
    "unit.manage": (
        frozenset({"admin", "community_worker", "commander"}),
        "Create, change, delete and import units",
    ),
    "user.read": (frozenset({"admin", "auditor"}), "List accounts"),
    "user.manage": (frozenset({"admin"}), "Create, disable and change accounts"),
    "audit.read": (frozenset({"auditor", "admin"}), "Read the audit trail"),
    "self.read": (frozenset({"resident"}), "A resident reads their own record, unmasked"),
    "policy.read": (STAFF, "See policy profiles, the profile in force and what a switch would change"),
    "policy.manage": (
        frozenset({"commander", "admin"}),
        "Activate a policy profile from a date (re-plans everyone under measures)",
    ),
    "case.read": (_FIELD, "See cases (personal data masked)"),
    "case.create": (_TRACERS | {"admin"}, "Open a case by hand (a positive result opens one by itself)"),
    "case.update": (_TRACERS, "Reclassify a case, change its care status or outcome (history kept)"),
    "investigation.manage": (
        _TRACERS,
        "Record the investigation: arrival on site, core facts, the interview timeline, the report",
    ),
    "contact.read": (_FIELD, "See a case's contact lists with the reasons"),
    "contact.find": (_TRACERS, "Run contact finding for a case (close, secondary, companions)"),
    "contact.confirm": (
        _TRACERS,
        "Confirm or reject listed contacts; confirmed ones get measures, tasks and assistance requests",
    ),
    "movement.import": (
        _TRACERS | {"admin"},
        "Import movement data: stays, check-ins, travel records, GPS points (validated, row report)",
    ),
    "chain.read": (_COMMAND | {"quarantine_manager"}, "See transmission chains and clusters"),
    "chain.manage": (_TRACERS, "Link an infector to an infectee"),
    "task.read": (STAFF, "See the tasks of your area"),
    "task.update": (STAFF - {"auditor"}, "Mark a task of your area done (or cancel it, for the HQ)"),
    "assistance.export": (_TRACERS | {"commander"}, "Export assistance requests (协查函) for other cities"),
    "measure.read": (_FIELD, "See a person's categories, measures and the reasons for them"),
    "measure.assign": (
        frozenset({"epidemiologist", "tracer", "community_worker", "checkpoint_staff", "quarantine_manager"}),
        "Put a person in a category (close contact, arrival, …) so that the profile decides their measures",
    ),
    "nat.read": (
        frozenset(
            {"commander", "epidemiologist", "tracer", "community_worker", "sampler", "lab_staff", "admin"}
        ),
        "See sampling sites, labs, rounds, tubes and results of your area (persons masked)",
    ),
    "nat.manage": (
        frozenset({"commander", "admin"}),
        "Open and close sampling sites, register labs, plan and close testing rounds",
    ),
    "nat.sample": (
        frozenset({"sampler", "admin"}),
        "Open tubes, register swabs into them by scanning, close and ship them",
    ),
    "nat.lab": (
        frozenset({"lab_staff", "admin"}),
        "Receive shipments and report results for your lab's tubes (upload or API)",
    ),
    "nat.own": (frozenset({"resident"}), "See your own sampling records and results"),
}


def roles_for(action: str) -> frozenset[str]:
    try:
        return ACTIONS[action][0]
    except KeyError:
        raise KeyError(f"unregistered action {action!r}") from None


def actions_of(roles: list[str] | tuple[str, ...] | frozenset[str]) -> list[str]:
    return sorted(a for a, (allowed, _d) in ACTIONS.items() if allowed & set(roles))

"""Import every model so that `Base.metadata` is complete (Alembic, tests)."""

from fangkong.area.models import Area
from fangkong.audit.models import AuditEntry
from fangkong.auth.models import AuthSession, User, UserRole
from fangkong.case.models import Case, CaseChange
from fangkong.chain.models import CaseLink
from fangkong.contact.models import AssistanceRequest, ContactListing
from fangkong.events.models import DomainEvent, EventHandling
from fangkong.imports.models import ImportBatch
from fangkong.investigation.models import InterviewEntry, Investigation
from fangkong.measure.models import Measure, PersonCategory, PolicyDecision
from fangkong.nat.models import (
    Lab,
    LabMember,
    RoundMember,
    Sample,
    SamplingSite,
    Shipment,
    TestingRound,
    Tube,
    TubeResult,
)
from fangkong.person.models import (
    Household,
    Person,
    PersonIdentifier,
    PersonKeyGroup,
    PersonMerge,
)
from fangkong.place.models import Place
from fangkong.policy_profile.models import PolicyActivation
from fangkong.task.models import Task
from fangkong.unit.models import Unit

__all__ = [
    "Lab",
    "LabMember",
    "RoundMember",
    "Sample",
    "SamplingSite",
    "Shipment",
    "TestingRound",
    "Tube",
    "TubeResult",
    "AssistanceRequest",
    "Case",
    "CaseChange",
    "CaseLink",
    "ContactListing",
    "InterviewEntry",
    "Investigation",
    "Task",
    "Area",
    "AuditEntry",
    "AuthSession",
    "DomainEvent",
    "EventHandling",
    "Household",
    "ImportBatch",
    "Measure",
    "Person",
    "PersonIdentifier",
    "PersonKeyGroup",
    "PersonCategory",
    "PersonMerge",
    "Place",
    "PolicyActivation",
    "PolicyDecision",
    "Unit",
    "User",
    "UserRole",
]

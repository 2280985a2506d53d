"""Transmission chains and clusters.

Links (infector → infectee) come from investigations. Clusters join cases that are linked,
live in the same household, or visited the same venue (from the interview timelines, or one
case listed as a venue contact of another). Generations count from the chain's first case (1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize, jurisdiction_filter
from fangkong.case import service as cases
from fangkong.case.models import Case
from fangkong.chain.models import CaseLink
from fangkong.contact.models import ContactListing
from fangkong.errors import Conflict, invalid
from fangkong.events import service as events
from fangkong.investigation.models import InterviewEntry, Investigation
from fangkong.person.models import Person


def link(
    *,
    session: Session,
    actor: Actor,
    infector_id: int,
    infectee_id: int,
    setting: str | None = None,
    evidence: str | None = None,
    confidence: str = "probable",
) -> CaseLink:
    if infector_id == infectee_id:
        raise invalid("infector_case_id", "a case cannot infect itself", infector_id)
    if confidence not in ("confirmed", "probable", "possible"):
        raise invalid("confidence", "expected confirmed, probable or possible", confidence)
    infector = cases.get(session=session, actor=actor, case_id=infector_id, action="chain.manage")
    infectee = cases.get(session=session, actor=actor, case_id=infectee_id, action="chain.manage")
    current = session.scalar(select(CaseLink).where(CaseLink.infectee_case_id == infectee.id))
    if current is not None:
        raise Conflict(
            f"case {infectee.case_no} already has an infector (case id {current.infector_case_id}); "
            "remove that link first"
        )
    parents = _parents(session)
    node: int | None = infector.id
    while node is not None:  # walking up from the infector must never reach the infectee
        if node == infectee.id:
            raise Conflict(f"linking {infector.case_no} → {infectee.case_no} would make a cycle")
        node = parents.get(node)
    row = CaseLink(
        infector_case_id=infector.id,
        infectee_case_id=infectee.id,
        setting=setting,
        evidence=evidence,
        confidence=confidence,
        actor_name=actor.username,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "chain.link",
        "case",
        infectee.id,
        after={
            "infector": infector.case_no,
            "infectee": infectee.case_no,
            "setting": setting,
            "confidence": confidence,
        },
        area_code=infectee.area_code,
    )
    events.emit(session, "chain.linked", "case", infectee.id, {"infector_case_id": infector.id}, actor=actor)
    return row


def unlink(*, session: Session, actor: Actor, infectee_id: int, reason: str) -> None:
    infectee = cases.get(session=session, actor=actor, case_id=infectee_id, action="chain.manage")
    row = session.scalar(select(CaseLink).where(CaseLink.infectee_case_id == infectee.id))
    if row is None:
        raise Conflict(f"case {infectee.case_no} has no infector")
    session.delete(row)
    audit.record(
        session,
        actor,
        "chain.unlink",
        "case",
        infectee.id,
        reason=reason,
        before={"infector_case_id": row.infector_case_id},
        area_code=infectee.area_code,
    )


def _parents(session: Session) -> dict[int, int]:
    return dict(session.execute(select(CaseLink.infectee_case_id, CaseLink.infector_case_id)).all())


@dataclass
class Graph:
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "edges": self.edges, "clusters": self.clusters}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def graph(*, session: Session, actor: Actor, area_code: str | None = None) -> Graph:
    """Every case of the jurisdiction with its generation and cluster; the links; the clusters
    (two or more cases) with their size and why they hold together."""
    authorize(actor, "chain.read")
    stmt = (
        select(Case, Person.household_id)
        .join(Person, Person.id == Case.person_id)
        .where(jurisdiction_filter(actor, Case.area_code))
    )
    if area_code:
        from fangkong.crud import within_area

        stmt = stmt.where(within_area(Case.area_code, area_code))
    rows = session.execute(stmt.order_by(Case.id)).all()
    by_id = {c.id: c for c, _h in rows}
    links = [
        lk
        for lk in session.scalars(select(CaseLink))
        if lk.infector_case_id in by_id and lk.infectee_case_id in by_id
    ]
    uf = _UnionFind()
    why: dict[tuple[int, int], set[str]] = {}

    def join(a: int, b: int, reason: str) -> None:
        uf.union(a, b)
        why.setdefault((min(a, b), max(a, b)), set()).add(reason)

    for cid in by_id:
        uf.find(cid)
    for lk in links:
        join(lk.infector_case_id, lk.infectee_case_id, "link")
    households: dict[int, list[int]] = {}
    for c, household in rows:
        if household is not None:
            households.setdefault(household, []).append(c.id)
    for members in households.values():
        for other in members[1:]:
            join(members[0], other, "household")
    for a, b in _shared_venues(session, by_id):
        join(a, b, "venue")
    parents = {lk.infectee_case_id: lk.infector_case_id for lk in links}
    generation = {cid: _generation(cid, parents) for cid in by_id}
    members_of: dict[int, list[int]] = {}
    for cid in by_id:
        members_of.setdefault(uf.find(cid), []).append(cid)
    cluster_no = {
        root: i + 1 for i, root in enumerate(sorted(r for r, m in members_of.items() if len(m) > 1))
    }
    out = Graph()
    for case in by_id.values():
        c = case
        out.nodes.append(
            {
                "id": c.id,
                "case_no": c.case_no,
                "classification": c.classification,
                "origin": c.origin,
                "area_code": c.area_code,
                "reported": c.reported_at.date().isoformat(),
                "generation": generation[c.id],
                "cluster": cluster_no.get(uf.find(c.id)),
            }
        )
    out.edges = [
        {
            "source": lk.infector_case_id,
            "target": lk.infectee_case_id,
            "setting": lk.setting,
            "confidence": lk.confidence,
        }
        for lk in links
    ]
    for root, no in sorted(cluster_no.items(), key=lambda kv: kv[1]):
        members = sorted(members_of[root])
        reasons = sorted({r for (a, b), rs in why.items() if uf.find(a) == root for r in rs})
        first = min(by_id[m].reported_at for m in members)
        out.clusters.append(
            {
                "cluster": no,
                "size": len(members),
                "cases": members,
                "reasons": reasons,
                "first_reported": first.date().isoformat(),
                "generations": max(generation[m] for m in members),
            }
        )
    out.clusters.sort(key=lambda c: (-c["size"], c["cluster"]))
    return out


def _generation(case_id: int, parents: dict[int, int]) -> int:
    depth, node, seen = 1, case_id, {case_id}
    while node in parents and parents[node] not in seen:
        node = parents[node]
        seen.add(node)
        depth += 1
    return depth


def _shared_venues(session: Session, by_id: dict[int, Case]) -> list[tuple[int, int]]:
    """Pairs of cases that visited the same venue (interview timelines), or where one case was
    listed as a venue contact of another."""
    visits = session.execute(
        select(Investigation.case_id, InterviewEntry.place_id)
        .join(InterviewEntry, InterviewEntry.investigation_id == Investigation.id)
        .where(InterviewEntry.kind == "place", InterviewEntry.place_id.is_not(None))
    ).all()
    by_place: dict[int, set[int]] = {}
    for case_id, place_id in visits:
        if case_id in by_id and place_id is not None:
            by_place.setdefault(place_id, set()).add(case_id)
    pairs = [(min(s), other) for s in by_place.values() if len(s) > 1 for other in s if other != min(s)]
    person_case = {c.person_id: c.id for c in by_id.values()}
    for case_id, person_id in session.execute(
        select(ContactListing.case_id, ContactListing.person_id).where(
            ContactListing.setting == "venue", ContactListing.person_id.in_(list(person_case))
        )
    ):
        if case_id in by_id:
            pairs.append((case_id, person_case[person_id]))
    return pairs


def graphml(g: Graph) -> str:
    """The graph as GraphML (yEd, Gephi, Cytoscape)."""
    keys = [
        ("case_no", "string"),
        ("classification", "string"),
        ("origin", "string"),
        ("area_code", "string"),
        ("reported", "string"),
        ("generation", "int"),
        ("cluster", "int"),
    ]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
    ]
    lines += [f'  <key id="{k}" for="node" attr.name="{k}" attr.type="{t}"/>' for k, t in keys]
    lines += [
        '  <key id="setting" for="edge" attr.name="setting" attr.type="string"/>',
        '  <key id="confidence" for="edge" attr.name="confidence" attr.type="string"/>',
        '  <graph id="chains" edgedefault="directed">',
    ]
    for n in g.nodes:
        data = "".join(
            f'<data key="{k}">{escape(str(n[k]))}</data>' for k, _t in keys if n.get(k) is not None
        )
        lines.append(f'    <node id="c{n["id"]}">{data}</node>')
    for i, e in enumerate(g.edges):
        data = "".join(
            f'<data key="{k}">{escape(str(e[k]))}</data>' for k in ("setting", "confidence") if e.get(k)
        )
        lines.append(f'    <edge id="e{i}" source="c{e["source"]}" target="c{e["target"]}">{data}</edge>')
    lines += ["  </graph>", "</graphml>"]
    return "\n".join(lines) + "\n"


def today_local() -> dt.date:
    from fangkong.timeutil import local_today

    return local_today()

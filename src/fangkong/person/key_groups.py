"""The 16 key populations (重点人群) of the 2020-04-08 technical guide, in its order.

Items 35–44 are confirmed by the guide's table of contents. Items 45–50 could not be
confirmed from the sources reachable when this list was written (policy-rules.md §8 marks
them UNCONFIRMED); they are the guide's most likely remaining entries and are flagged in
`UNCONFIRMED_KEY_GROUPS` and in docs/registry.md. Labels live in the i18n catalogues under
`key_group.<code>`.
"""

KEY_GROUPS: tuple[str, ...] = (
    "elderly",  # 35 老年人
    "pregnant",  # 36 孕妇
    "children",  # 37 儿童
    "students",  # 38 学生
    "patients",  # 39 就医人员
    "police",  # 40 警察
    "enterprise_employees",  # 41 企业职工
    "customs_staff",  # 42 海关（边检、卫生检疫）人员
    "drivers",  # 43 司机
    "couriers",  # 44 快递员
    "sanitation_workers",  # 45 环卫工人 (unconfirmed)
    "cleaners",  # 46 保洁员 (unconfirmed)
    "security_guards",  # 47 保安 (unconfirmed)
    "renovation_workers",  # 48 装修工人 (unconfirmed)
    "community_workers",  # 49 社区工作者 (unconfirmed)
    "home_isolated",  # 50 居家隔离人员 (unconfirmed)
)

UNCONFIRMED_KEY_GROUPS: frozenset[str] = frozenset(KEY_GROUPS[10:])

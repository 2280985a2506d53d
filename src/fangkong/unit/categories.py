"""The 14 key unit categories (重点单位) of the 2020-04-08 technical guide, in its order.
Labels live in the i18n catalogues under `unit_category.<code>`."""

UNIT_CATEGORIES: tuple[str, ...] = (
    "community",  # 21 社区
    "enterprise",  # 22 企业
    "construction",  # 23 建筑业
    "postal_courier",  # 24 邮政快递业
    "government_agency",  # 25 机关事业单位
    "childcare",  # 26 托幼机构
    "school",  # 27 中小学校
    "university",  # 28 大专院校
    "elderly_care",  # 29 养老机构
    "welfare_home",  # 30 福利院
    "prison",  # 31 监狱
    "mental_health_institution",  # 32 精神卫生医疗机构
    "medical_waste_centre",  # 33 医疗废物处置中心
    "property_management",  # 34 物业管理中心
)

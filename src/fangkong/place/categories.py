"""The 20 key place categories (重点场所) of the 2020-04-08 technical guide, in its order.

Source and labels: docs/reference (policy-rules.md §8); labels live in the i18n catalogues
under `place_category.<code>`.
"""

PLACE_CATEGORIES: tuple[str, ...] = (
    "home",  # 1 居家
    "office",  # 2 办公场所
    "hotel",  # 3 宾馆
    "shopping_mall",  # 4 商场
    "bank",  # 5 银行
    "restaurant",  # 6 餐厅（馆）
    "barber",  # 7 理发店
    "farmers_market",  # 8 农集贸市场
    "park",  # 9 公园
    "medical_institution",  # 10 医疗机构
    "isolation_site",  # 11 医学隔离观察点
    "rail_passenger",  # 12 铁路客运
    "road_passenger",  # 13 道路客运
    "waterway_passenger",  # 14 水路客运
    "civil_aviation",  # 15 民航
    "city_bus",  # 16 城市公共汽、电车
    "urban_rail",  # 17 城市轨道交通
    "taxi",  # 18 出租汽车
    "private_car",  # 19 私家车
    "returnee_transfer_vehicle",  # 20 回国人员转运车辆
)

# Vehicles are venues too: a bus, a train or a taxi is where passengers meet.
VEHICLE_CATEGORIES: frozenset[str] = frozenset(
    {
        "rail_passenger",
        "road_passenger",
        "waterway_passenger",
        "civil_aviation",
        "city_bus",
        "urban_rail",
        "taxi",
        "private_car",
        "returnee_transfer_vehicle",
    }
)

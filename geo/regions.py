"""Named groups of Zhejiang's counties used across onemap."""

from __future__ import annotations

#: 浙江山区26县: the 26 mountain counties that Zhejiang's common-prosperity policy targets.
MOUNTAIN_COUNTIES: frozenset[str] = frozenset(
    {
        "330127",  # 淳安县
        "330324",
        "330326",
        "330327",
        "330328",
        "330329",  # 永嘉 平阳 苍南 文成 泰顺
        "330723",
        "330727",  # 武义 磐安
        "330802",
        "330803",
        "330822",
        "330824",
        "330825",
        "330881",  # 柯城 衢江 常山 开化 龙游 江山
        "331022",
        "331023",
        "331024",  # 三门 天台 仙居
        "331102",
        "331121",
        "331122",
        "331123",
        "331124",
        "331125",
        "331126",
        "331127",
        "331181",  # 莲都 青田 缙云 遂昌 松阳 云和 庆元 景宁 龙泉
    }
)

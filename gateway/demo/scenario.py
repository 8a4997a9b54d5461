"""What the demo sends: realistic reports across channels, scripts and destinations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DemoChannel = Literal["sms", "wechat", "call"]


@dataclass(frozen=True)
class DemoAlert:
    """One citizen report and where a dispatcher would expect it to go."""

    channel: DemoChannel
    text: str
    expect: str  # destination id
    unit: str | None = None  # the unit the simulated command centre orders
    lat: float | None = None
    lon: float | None = None
    label: str | None = None


SCRIPT: tuple[DemoAlert, ...] = (
    DemoAlert("sms", "沿江路88号3号楼着火了，五楼有人被困，快来人！", "command-centre", "ls-fire"),
    DemoAlert(
        "wechat",
        "我們小區電梯卡在七樓，裡面關著一個老人",
        "command-centre",
        "ls-fire",
        28.4511,
        119.9228,
        "丽水市莲都区万象街道紫金小区",
    ),
    DemoAlert("sms", "瓯江大桥下面有人落水了，在往下游漂", "command-centre", "ls-water"),
    DemoAlert("sms", "小区门口的路灯坏了好几天了，晚上很黑", "12345"),
    DemoAlert("wechat", "楼下广场舞太吵了，每天晚上十点还在放音乐，想投诉一下", "12345"),
    DemoAlert(
        "sms", "我家八十岁的老父亲有老年痴呆，早上出门到现在没回来", "command-centre", "ls-police"
    ),
    DemoAlert(
        "wechat",
        "我們的漁船在東極島附近進水了，船上有五個人",
        "ocean-fishery",
        None,
        30.1883,
        122.6809,
        "东极岛东北2海里",
    ),
    DemoAlert("sms", "两艘货船在航道上相撞了，有一艘在下沉", "maritime-sar"),
    DemoAlert(
        "sms", "路边的窨井盖不见了，刚才有个电瓶车差点掉进去", "command-centre", "ls-cityadmin"
    ),
    DemoAlert("wechat", "请问办理居住证需要带哪些材料？", "12345"),
    DemoAlert("sms", "ＸＸ路燃气管道破了，一股很大的煤气味", "command-centre", "ls-construction"),
    DemoAlert("sms", "海面上有一大片油污，好像是哪条船漏油了", "maritime-sar"),
    DemoAlert("call", "", "command-centre", "ls-police"),
)

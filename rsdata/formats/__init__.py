"""Source formats, registered by name. Importing this package registers every built-in format."""

from rsdata.formats import (  # noqa: F401  (importing registers the formats)
    auair,
    carpk,
    class_folders,
    coco,
    dota,
    hrsc2016,
    index_mask,
    isaid,
    levir,
    nwpu_vhr10,
    pascal_voc,
    remotecount,
    rgb_mask,
    rs_captions,
    rsod,
    stanford_drone,
    uavdt,
    visdrone_det,
)
from rsdata.formats.base import (
    SourceFormat,
    SourceItem,
    available_formats,
    get_format,
    hub_split_name,
    register_format,
)

__all__ = ["SourceFormat", "SourceItem", "available_formats", "get_format", "hub_split_name", "register_format"]

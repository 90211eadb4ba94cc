"""Drawing what a tape records: `draw` (draw.py) over record.py, group.py and picture.py."""

from tapelab.drawing.draw import Drawing, draw

__all__ = ["Drawing", "draw"]

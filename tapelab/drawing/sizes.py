"""The picture's sizes, in px: text metrics and gaps, shared by the layout
(picture.py) and the placing of cut labels (labels.py)."""

FONT = 12  # px
CHAR = 7.3  # px per monospace character at FONT
LINE = 16  # px per text row
PAD = 6  # px inside a box
GAP_X, GAP_Y = 18, 46  # px between boxes, between layers
MAX_TITLE = 44  # characters of a node's first row
MAX_WIDTH = 900  # px; 700 / 900 * 12 px = 9.3 px at a 700 px column
LABEL_GAP = 8  # px between a cut's arrow (its head is 9 px wide) and its label

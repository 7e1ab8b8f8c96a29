"""Appearances: the faces of one file grouped into tracks (one person's stretch on screen), the
people of a query clip, and the unit means that stand for several faces."""

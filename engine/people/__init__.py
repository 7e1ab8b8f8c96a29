"""People across the library: its appearances (a video's tracks, a photo's faces) grouped into
people, kept up to date as files come and go, named and corrected by the user."""

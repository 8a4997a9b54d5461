"""The unit directory: who the linkage units are and how to reach them right now."""

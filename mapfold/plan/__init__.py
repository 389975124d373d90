"""Splitting a count into independent tasks: the task lists of each walk, their digests, and the probes that size them."""

"""Milestone scripts, run by `tito milestone NAME` in a subprocess on a student's package."""

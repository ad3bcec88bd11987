"""A student's workspace: init, export, status (workspace.py) and milestones (milestones.py)."""

"""Where things are (layout.py), THE lesson parse model (lesson.py) and the course's constants (constants.py)."""

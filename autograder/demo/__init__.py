"""`tito demo` (command.py) and its simulated students (sample_class.py: demo and test support, not grading)."""

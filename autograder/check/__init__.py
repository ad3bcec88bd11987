"""`tito check`: lint rules (rules.py) and mutation testing of a module's tests (mutants.py)."""

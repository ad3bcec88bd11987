"""`tito build`: sources -> nbgrader notebooks (notebooks.py) -> release/, solutions/ (build.py), tinytorch_lib/ (export.py); kernel.py runs notebooks."""

"""nbgrader's own Autograde and Validate, refused in a tito course or grading folder.

Plain nbgrader runs a submission outside the sandbox, without the reference package of the
earlier modules and without tito's limits, and reports a wrong grade as a success (a 6/8
submission scored 1/8 with `NameError: name 'Tensor' is not defined`). The course's
`nbgrader_config.py`, and the one `tito grade` writes into every grading folder, make this
preprocessor the first step of nbgrader's autograde and validate: formgrader's Autograde button,
`nbgrader autograde` and `nbgrader validate` then stop with a message naming the tito command that
grades correctly. `tito` itself configures its own preprocessors, so it never meets this one.
"""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

MESSAGE = ("this course grades with tito, not plain nbgrader: run `tito grade MODULE --submissions DIR "
           "--out DIR` (the sandbox, the limits and the reference package of the earlier modules), then "
           "`tito report MODULE --out DIR` after manual grading; solutions are checked by `tito build`")


class RefusedByTito(Exception):
    pass


class RefuseOutsideTito(Preprocessor):
    """Stops nbgrader's autograde/validate with MESSAGE (see the module docstring)."""

    enabled = Bool(True, help="always on: nbconvert skips preprocessors that are not enabled").tag(config=True)

    def preprocess(self, nb, resources):
        raise RefusedByTito(MESSAGE)

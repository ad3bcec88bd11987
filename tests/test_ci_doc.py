"""docs/ci.md's GitHub Actions workflow is valid YAML whose tito commands parse with tito's own CLI,
whose matrix covers every shard it grades, and whose merge step names every shard's artifact."""
import re
import shlex

import yaml

from autograder.cli.main import parser
from helpers import REPO

DOC = (REPO / "docs" / "ci.md").read_text()


def workflow() -> dict:
    (block,) = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    return yaml.safe_load(block)


def tito_commands(job: dict, shard: int) -> list[list[str]]:
    commands = []
    for step in job["steps"]:
        run = step.get("run", "")
        run = run.replace("${{ matrix.shard }}", str(shard)).replace("${{ inputs.module }}", "06_optimizers")
        for line in run.replace("\n", " ").split("&&"):
            words = shlex.split(line)
            if words and words[0] == "tito":
                commands.append(words[1:])
    return commands


def test_the_workflow_parses_and_its_matrix_covers_every_shard():
    flow = workflow()
    shards = flow["jobs"]["grade"]["strategy"]["matrix"]["shard"]
    (grade,) = tito_commands(flow["jobs"]["grade"], shards[0])
    args = parser().parse_args(grade)
    k, n = map(int, args.shard.split("/"))
    assert shards == list(range(1, n + 1)), f"matrix {shards} vs --shard K/{n}"
    assert args.command == "grade" and args.module == "06_optimizers" and args.sandbox == "required"
    assert flow["jobs"]["merge"]["needs"] == "grade"
    (merge,) = tito_commands(flow["jobs"]["merge"], 0)
    args = parser().parse_args(merge)
    assert args.command == "merge" and args.shards == [f"shard-{k}" for k in shards], args.shards


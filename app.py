#!/usr/bin/env python3
"""CDK entry point: environments/*.yaml + model_artifacts/**.yaml -> one stack set per environment.

`-c env=<name>` synthesizes a single environment. Invalid input stops here,
before any construct exists: one line per problem, exit 2, no template.
"""

import sys
from pathlib import Path

from config.errors import SpecErrors
from config.project import load_project
from scripts.lib.errors import Exit, print_spec_errors
from stacks.environment_app import build, new_app

ROOT = Path(__file__).absolute().parent  # not resolve(): a symlinked app.py serves its own repo


def main() -> None:
    app = new_app(ROOT)
    try:
        build(app, load_project(ROOT, only_env=app.node.try_get_context("env")))
    except SpecErrors as exc:
        print_spec_errors(exc)
        sys.exit(Exit.INVALID_INPUT)
    app.synth()


if __name__ == "__main__":
    main()

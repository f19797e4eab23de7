"""`python -m scripts`: one click group; each command lives in scripts/commands/<name>.py.

Commands are imported only when run, so `--help` and `validate` stay fast
(boto3 and the CDK are heavy). Every failure ends here: one line on stderr
and a documented exit code, never a traceback (unless --debug).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from scripts.lib import interrupts
from scripts.lib.aws import describe_error, is_aws_error
from scripts.lib.errors import Exit, UserError, print_spec_errors

COMMANDS = {
    "validate": "Validate environment configs and pin manifests.",
    "synth": "Validate, synthesize every environment into cdk.out/ and print the review summary.",
    "summary": "Print the review summary of a synthesized cloud assembly.",
    "deploy": "Deploy one environment: synthesize, refuse unverified serving pins, then cdk deploy.",
    "review": "Compare two synthesized assemblies (base, head): what changes per stack, as markdown.",
    "pin-weights": "Hash and upload a model snapshot, and write its pin manifest.",
    "pin-image": "Resolve the serving image per region to a digest and pin it.",
    "pin-adapter": "Archive, hash and upload a PEFT LoRA adapter, and pin it against its base.",
    "verify": "Prove that stored weights and images are what the pins say.",
    "evaluate": "Run a labeled dataset through an endpoint (and a baseline API); write the report.",
    "approve": "Record an approval or rejection, with its evaluation report, in the pin and the registry.",
    "shadow-report": "Compare a shadow variant's captured answers with production's.",
    "cost": "Monthly cost of an environment's endpoints vs a per-token API, and the break-even volume.",
    "prices-refresh": "Refresh SageMaker hosting prices in pricing/prices.yaml from the AWS Price List API.",
    "loadtest": "Ramp concurrency against an endpoint, find the knee, recommend the autoscaling target.",
    "promote": "Promote an endpoint to a pinned version: gates, blue/green deploy, live check, history.",
    "rollback": "Roll an endpoint back to the version live before (from the history, or --to).",
    "route": "Set or show who answers the applications using the client: api, shadow, canary, llama, llama-only.",
    "status": "Per endpoint: config vs deployed version, registry status, deployment in flight, alarms, drift.",
    "deploy-role": "Print the GitHub deploy role ARN and region of an environment (for GITHUB_OUTPUT).",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"scripts.commands.{name.replace('-', '_')}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, envvar="PINNED_LLAMA_DEBUG", help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Pinned Llama 3.2 endpoints on SageMaker: validate, pin, verify, synthesize, promote.

    Exit codes: 0 ok, 1 a check failed, 2 invalid input (nothing changed),
    3 AWS error, 4 promote/rollback refused (a gate, or a deployment in flight),
    5 rolled back by SageMaker, 6 deployment failed, 7 smoke test failed (rolled
    back), 8 timed out, 70 internal error, 130 interrupted.
    """
    ctx.obj = {"debug": debug}


def main() -> None:
    from config.errors import SpecErrors

    debug = "--debug" in sys.argv or os.environ.get("PINNED_LLAMA_DEBUG")
    try:
        with interrupts.sigterm_as_ctrl_c():  # a cancelled CI job ends a command as Ctrl-C does
            cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # bad flag, missing option: click's own one-liner
        exc.show()
        sys.exit(Exit.INVALID_INPUT)
    except click.Abort as exc:  # click turns KeyboardInterrupt (Ctrl-C, or SIGTERM as Interrupted) into Abort
        if isinstance(exc.__cause__, interrupts.Interrupted):
            click.echo(f"interrupted by {exc.__cause__.signal_name}", err=True)
        elif isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("interrupted", err=True)
        sys.exit(Exit.INTERRUPTED)
    except SpecErrors as exc:
        print_spec_errors(exc)
        sys.exit(Exit.INVALID_INPUT)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(Exit.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if is_aws_error(exc):
            click.echo(f"error: {describe_error(exc)}", err=True)
            sys.exit(Exit.AWS_ERROR)
        if debug:
            raise
        click.echo(f"internal error: {exc.__class__.__name__}: {exc} (rerun with --debug for a traceback)",
                   err=True)
        sys.exit(Exit.INTERNAL)

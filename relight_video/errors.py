"""User-facing errors.

Anything raised as :class:`InputError` is the user's to fix (a missing file, a bad value); the CLI
prints its message as one line on stderr and exits with code 2, without a traceback.
"""


class InputError(ValueError):
    """Bad input named in the message: a path, an argument, a config key."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a ``kill``, a render farm stopping a job), raised where Ctrl-C's
    KeyboardInterrupt would be, so the same clean-up runs; the CLI exits with 143, not 130."""

    # set by the handler: code that catches the exception may re-raise a plain
    # KeyboardInterrupt in its place (Ray's ray.wait does), and the exit code must still say 143
    received = False


def on_sigterm(signum, frame):
    """SIGTERM handler: remember it, and unwind like Ctrl-C."""
    Terminated.received = True
    raise Terminated


def interrupt_code(interrupt: KeyboardInterrupt) -> int:
    """The exit code for an interrupt: 143 after SIGTERM, 130 after Ctrl-C."""
    return 143 if isinstance(interrupt, Terminated) or Terminated.received else 130

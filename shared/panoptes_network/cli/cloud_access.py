"""Tell a command-line user, in one line, that neither the local stack nor Google Cloud answers.

A command that makes cloud clients without a running emulator stack and without Google Cloud
credentials fails deep inside google-auth with a long traceback. The commands catch
:func:`cloud_access_errors` around their client work instead and print
:func:`no_cloud_access_message`.
"""

from __future__ import annotations

__all__ = ["cloud_access_errors", "no_cloud_access_message"]

#: What to do when no emulator and no Google Cloud project can be reached.
HOW_TO_REACH_A_CLOUD = (
    "start the local stack with `bin/dev up`, or set up Google Cloud credentials "
    "(`gcloud auth application-default login`)"
)


def cloud_access_errors() -> tuple[type[Exception], ...]:
    """Return the exceptions that mean no emulator or Google Cloud project could be reached.

    The google packages are imported here, when a command is about to make its clients, not
    when the command line is read.

    Returns
    -------
    tuple of exception types
        Missing or unusable credentials, and calls that found nothing listening.
    """
    from google.api_core import exceptions as api_errors
    from google.auth import exceptions as auth_errors

    return (
        auth_errors.DefaultCredentialsError,
        auth_errors.RefreshError,
        auth_errors.TransportError,
        api_errors.RetryError,
        api_errors.ServiceUnavailable,
        api_errors.DeadlineExceeded,
        api_errors.Unauthenticated,
    )


def no_cloud_access_message(command: str, error: BaseException) -> str:
    """Return the one-line message for a failure listed by :func:`cloud_access_errors`.

    Parameters
    ----------
    command : str
        The command's name, the message's prefix (e.g. ``lightcurve``).
    error : BaseException
        What the cloud library raised.

    Returns
    -------
    str
        ``<command>: cannot reach the local stack or Google Cloud (<error>); <what to do>``,
        on one line.
    """
    detail = " ".join(str(error).split()) or type(error).__name__
    return (
        f"{command}: cannot reach the local stack or Google Cloud "
        f"({type(error).__name__}: {detail}); {HOW_TO_REACH_A_CLOUD}"
    )

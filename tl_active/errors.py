"""The errors a user can meet, each with a message that says what went wrong and what to do.

They live together, free of TensorFlow and Streamlit, so that every layer can raise and catch
them; the app shows their message as it is.
"""


class TlActiveError(RuntimeError):
    """Base of every error the app reports to the user as a plain message."""


class DataError(TlActiveError):
    """The MNIST file is missing or not what it should be."""


class ModelError(TlActiveError):
    """The shared CNN file is missing, corrupt or not the expected network."""


class ProtocolError(TlActiveError):
    """A labelling step out of order: answers for another batch, a submit with none pending."""


class PoolExhaustedError(TlActiveError):
    """No unlabelled, unskipped images remain to be offered."""


class SessionFileError(TlActiveError):
    """A saved session or manifest is unreadable, foreign, or made with another model."""


class Cancelled(TlActiveError):
    """A long run (a fine-tuning) that the person stopped; it changed nothing."""


class FileRefusedError(TlActiveError):
    """A file the app will not read: missing, not a regular file, a link out of its folder,
    or too large. `reason` says why in a few words, for a list of files left out."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason

"""The admin command's errors: each one is a one-line message for the operator and an exit code.

    AdminError                 exit 2, nothing was changed
    ├── InvalidInput           a value on the command line that cannot be used
    ├── MissingSecret          a secret that the command needs was not given
    ├── UnknownTenant          no tenant with that id or email
    ├── DuplicateEmail         a tenant with that email exists already
    ├── PhoneNumberInUse       the number is active for another tenant
    ├── NotConfigured          the tenant has no config of the kind the command changes
    ├── SchemaNotMigrated      the database lacks migrations this code needs
    └── DatabaseNotReachable   DATABASE_URL is malformed, or nothing answers there
    DatabaseFailure        exit 1, the database failed during the command

Messages never contain a secret: the classes that concern secrets name only where it was expected.
"""

from __future__ import annotations


class AdminError(Exception):
    """An operator mistake or an unusable database state, reported as `error: <message>`."""

    exit_code = 2


class InvalidInput(AdminError):
    pass


class MissingSecret(AdminError):
    pass


class UnknownTenant(AdminError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"unknown tenant: {reference} (give the tenant's id or email)")


class DuplicateEmail(AdminError):
    def __init__(self, email: str) -> None:
        super().__init__(f"a tenant with email {email} already exists")


class PhoneNumberInUse(AdminError):
    def __init__(self, phone_number_id: str) -> None:
        super().__init__(
            f"phone_number_id {phone_number_id} is already active for another tenant;"
            " deactivate it there first"
        )


class NotConfigured(AdminError):
    pass


class DatabaseNotReachable(AdminError):
    pass


class SchemaNotMigrated(AdminError):
    def __init__(self, pending: list[str]) -> None:
        listed = ", ".join(pending) if pending else "all"
        super().__init__(f"the database schema is not migrated (pending: {listed}); run `make migrate`")


class DatabaseFailure(AdminError):
    exit_code = 1

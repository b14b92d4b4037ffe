"""Accounts: the identity and profile of every user, and the unique claims on names and emails.

Item layout (users table unless noted; keys are `pk` / `sk`):
- `USER#<username>` / `ACCOUNT`: `AccountItem` (username is the lower-cased, immutable handle)
- `EMAIL#<email>` / `EMAIL`: `EmailClaimItem`, so that an email belongs to one account
- auth table, `CRED#<username>` / `CRED`: `CredentialItem`, the password hash

The users table belongs to the accounts domain, which two services share: `auth` creates
accounts and reads credentials, `users` serves and edits profiles and the follow graph.
"""

from datetime import UTC, datetime
from typing import cast

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from letslive.constants import Table
from letslive.data.tables import BaseItem, bind
from letslive.errors import Conflict, DependencyUnavailable
from letslive.settings import get_settings


class AccountItem(BaseItem):
    user_id = UnicodeAttribute()
    username = UnicodeAttribute()
    email = UnicodeAttribute()
    display_name = UnicodeAttribute()
    bio = UnicodeAttribute(default="")
    avatar_url = UnicodeAttribute(null=True)
    followers_count = NumberAttribute(default=0)
    following_count = NumberAttribute(default=0)
    live = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()


class EmailClaimItem(BaseItem):
    username = UnicodeAttribute()


class CredentialItem(BaseItem):
    user_id = UnicodeAttribute()
    password_hash = UnicodeAttribute()


def account_key(username: str) -> tuple[str, str]:
    return f"USER#{username.lower()}", "ACCOUNT"


def email_key(email: str) -> tuple[str, str]:
    return f"EMAIL#{email.lower()}", "EMAIL"


def credential_key(username: str) -> tuple[str, str]:
    return f"CRED#{username.lower()}", "CRED"


def _connection() -> Connection:
    settings = get_settings()
    return Connection(region=settings.region, host=settings.aws_endpoint_url)


class AccountRepository:
    def __init__(self) -> None:
        self.accounts = bind(AccountItem, Table.USERS)
        self.emails = bind(EmailClaimItem, Table.USERS)
        self.credentials = bind(CredentialItem, Table.AUTH)

    def create(self, user_id: str, username: str, email: str, password_hash: str) -> AccountItem:
        """Create the account, its email claim and its credentials at once, or raise `Conflict`."""
        now = datetime.now(UTC)
        pk, sk = account_key(username)
        account = self.accounts(
            pk, sk, user_id=user_id, username=username.lower(), email=email.lower(),
            display_name=username, created_at=now,
        )  # fmt: skip
        claim = self.emails(*email_key(email), username=username.lower())
        credential = self.credentials(*credential_key(username), user_id=user_id, password_hash=password_hash)
        try:
            with TransactWrite(connection=_connection()) as transaction:
                transaction.save(account, condition=self.accounts.pk.does_not_exist())
                transaction.save(claim, condition=self.emails.pk.does_not_exist())
                transaction.save(credential, condition=self.credentials.pk.does_not_exist())
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                reasons = [r.code for r in exc.cancellation_reasons or [] if r is not None]
                if "ConditionalCheckFailed" in reasons:
                    raise Conflict("that username or email is already taken") from exc
            raise DependencyUnavailable(f"could not create the account: {exc.msg}") from exc
        return cast(AccountItem, account)

    def get(self, username: str) -> AccountItem | None:
        try:
            return cast(AccountItem, self.accounts.get(*account_key(username)))
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the account: {exc.msg}") from exc

    def username_for_email(self, email: str) -> str | None:
        try:
            return str(self.emails.get(*email_key(email)).username)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the email claim: {exc.msg}") from exc

    def credential(self, username: str) -> CredentialItem | None:
        try:
            return cast(CredentialItem, self.credentials.get(*credential_key(username)))
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the credentials: {exc.msg}") from exc

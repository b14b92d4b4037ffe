"""Accounts: the identity and profile of every user, and the unique claims on names and emails.

Item layout (users table unless noted; keys are `pk` / `sk`):
- `USER#<username>` / `ACCOUNT`: `AccountItem` (username is the lower-cased, immutable handle)
- `EMAIL#<email>` / `EMAIL`: `EmailClaimItem`, so that an email belongs to one account
- auth table, `CRED#<username>` / `CRED`: `CredentialItem`, the password hash

The users table belongs to the accounts domain, which two services share: `auth` creates
accounts and reads credentials, `users` serves and edits profiles and the follow graph.
"""

from datetime import UTC, datetime
from functools import cached_property, partial

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from letslive.constants import Table
from letslive.data.tables import BaseItem, bind, conditional, connection
from letslive.errors import Conflict, DependencyUnavailable
from letslive.models.users import Profile, ProfilePatch


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


class AccountRepository:
    """Models are bound on first use: the users service has no auth table (and may not read
    credentials), so binding them up front would fail its configuration."""

    @cached_property
    def accounts(self) -> type[AccountItem]:
        return bind(AccountItem, Table.USERS)

    @cached_property
    def emails(self) -> type[EmailClaimItem]:
        return bind(EmailClaimItem, Table.USERS)

    @cached_property
    def credentials(self) -> type[CredentialItem]:
        return bind(CredentialItem, Table.AUTH)

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
            with TransactWrite(connection=connection()) as transaction:
                transaction.save(account, condition=self.accounts.pk.does_not_exist())
                transaction.save(claim, condition=self.emails.pk.does_not_exist())
                transaction.save(credential, condition=self.credentials.pk.does_not_exist())
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                reasons = [r.code for r in exc.cancellation_reasons or [] if r is not None]
                if "ConditionalCheckFailed" in reasons:
                    raise Conflict("that username or email is already taken") from exc
            raise DependencyUnavailable(f"could not create the account: {exc.msg}") from exc
        return account

    def get(self, username: str) -> AccountItem | None:
        try:
            return self.accounts.get(*account_key(username))
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
            return self.credentials.get(*credential_key(username))
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the credentials: {exc.msg}") from exc

    # --- profiles (users service) -------------------------------------------------------------

    def profile(self, username: str, consistent_read: bool = False) -> Profile | None:
        """The public profile; `consistent_read` when a just-written counter must be seen."""
        try:
            item = self.accounts.get(*account_key(username), consistent_read=consistent_read)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable(f"could not read the account: {exc.msg}") from exc
        return profile_from_item(item)

    def update_profile(self, username: str, patch: ProfilePatch) -> Profile | None:
        """Apply the fields present in `patch` to an existing account; None when there is none."""
        fields = patch.model_fields_set
        actions: list[Action] = []
        if "display_name" in fields and patch.display_name is not None:
            actions.append(self.accounts.display_name.set(patch.display_name))
        if "bio" in fields and patch.bio is not None:
            actions.append(self.accounts.bio.set(patch.bio))
        if "avatar_url" in fields:
            avatar = self.accounts.avatar_url
            actions.append(avatar.remove() if patch.avatar_url is None else avatar.set(patch.avatar_url))
        if not actions:
            return self.profile(username, consistent_read=True)
        item = self.accounts(*account_key(username))
        # The condition keeps an update from creating a half-formed account (UpdateItem upserts).
        if not conditional(
            partial(item.update, actions=actions, condition=self.accounts.pk.exists()), "update the profile"
        ):
            return None
        return profile_from_item(item)


def profile_from_item(item: AccountItem) -> Profile:
    return Profile(
        username=item.username,
        display_name=item.display_name,
        bio=item.bio or "",
        avatar_url=item.avatar_url,
        followers_count=int(item.followers_count or 0),
        following_count=int(item.following_count or 0),
        live=bool(item.live),
        created_at=item.created_at,
    )

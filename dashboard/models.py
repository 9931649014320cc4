from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import models
from django.db.models import Q


class TalkdeskConnection(models.Model):
    """A Django user's link to their Talkdesk identity, and their OAuth tokens.

    The row outlives a disconnect (tokens are cleared, the identity stays) so that
    "Sign in with Talkdesk" finds the same Django user again. Tokens are stored only as
    ciphertext bound to this user (see crypto.py); `expires_at` is absolute, never relative.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="talkdesk"
    )
    talkdesk_user_id = models.CharField(max_length=255, blank=True, db_index=True)
    talkdesk_name = models.CharField(max_length=255, blank=True)
    talkdesk_email = models.EmailField(max_length=255, blank=True)
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=1000, blank=True)
    reconnect_required = models.BooleanField(default=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Talkdesk connection of {self.user}"

    @property
    def has_tokens(self) -> bool:
        return bool(self.access_token_encrypted)

    @property
    def state(self) -> str:
        """What the header tells the person: connected, reconnect_required or not_connected."""
        if self.reconnect_required:
            return "reconnect_required"
        return "connected" if self.has_tokens else "not_connected"


# ---- saved views (issue 6) ----


class SavedViewQuerySet(models.QuerySet["SavedView"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> SavedViewQuerySet:
        """The views this person may see: their own, their teams', everyone's.

        Every saved-view page filters through this; templates never decide visibility.
        """
        if not user.is_authenticated:
            return self.none()
        return self.filter(
            Q(owner_id=user.pk)
            | Q(visibility=SavedView.Visibility.EVERYONE)
            | Q(visibility=SavedView.Visibility.GROUP, group__in=Group.objects.filter(user=user.pk))
        )


class SavedView(models.Model):
    """A named case-browser URL: the filters (and columns) as the dashboard's own parameters.

    `parameters` holds what /cases/ accepted when the view was saved, as written (relative
    dates stay relative): a string per parameter, a list where a key was repeated. Only the
    filters sit here; who sees the view is `visibility`, and the data always comes with the
    viewer's own Talkdesk token when the view is opened.
    """

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Only me"
        GROUP = "group", "A team"
        EVERYONE = "everyone", "Everyone in Casebook"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=100)
    # Never changes, renaming included: it is the view's public address.
    slug = models.SlugField(max_length=80, unique=True)
    parameters = models.JSONField(default=dict)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    # A deleted group leaves the view visible to its owner only (nobody matches a null group).
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="saved_views"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class SavedViewVisit(models.Model):
    """One person's relation to one view: pinned in their sidebar, and when they last opened it
    (the "new since you last looked" dot compares cases' update time with `last_seen_at`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_view_visits"
    )
    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="visits")
    pinned = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "view"], name="one_visit_row_per_user_and_view")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.view}"

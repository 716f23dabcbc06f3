"""WebSocket consumers relay events; they authenticate on connect and authorize groups."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from realtime.groups import STAFF_GROUP, team_group

CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def _groups_for_user(user: Any) -> list[str]:
    if user.is_staff:
        return [STAFF_GROUP]
    return [team_group(team_id) for team_id in user.teams.values_list("id", flat=True)]


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first: a close code only reaches the client on an open socket.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined = await _groups_for_user(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def event_message(self, event: dict[str, Any]) -> None:
        await self.send_json(event["message"])

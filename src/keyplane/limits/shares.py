"""Local shares of Redis limits: most limited calls admitted and settled with no round trip.

An instance takes a share of each limit of a scope from Redis (the ``SHARE`` script), at most
once a second per scope: requests and tokens counted in the current one-second slot, parallel
slots as members of the scope's set, budget as a reservation under the share's id, requests
of the day added to the day's count. Redis counts a share as used the moment it is granted,
so every instance sees at least what the others may admit, and no limit can be overshot by
more than what calls really use beyond their reservation, as with one script call per call.

Calls that fit in their scopes' shares are admitted locally. At the next second (or when a
share runs out) the share is renewed: what it did not use goes back to its slot, what its
calls spent and their token true-ups are settled, and a new share is granted, one script call
in all. Settles in between are local: they are "batched off the request path".

A share is at most a sixteenth of what is left of a limit, sized at twice the scope's traffic
in the last second, and granted only when each limit leaves room for at least ``MIN_CALLS``
calls like the one asking. Near a limit nothing is granted and calls go to Redis one by one,
exactly as before, with the shares of this instance already given back: so "300 concurrent
calls against a budget for 50 admit exactly 50" still holds, and what a share can hold back
from other instances is bounded by a sixteenth of what was left, for at most a second.

If the instance dies, its shares are what its calls in flight would have held: the rate part
leaves the window within a minute, parallel slots and the budget reservation expire after
``LEASE_SECONDS``. Spend settled locally and not yet written stays covered by the reservation
until then, and the store has it (metering is separate), so a budget seed counts it.

If Redis loses its data, a share's next renewal finds the window unseeded and drops what it
had settled (the seed counts it from the store). If another instance has seeded the window
again by then, that spend is added again, so the window counts it twice: the budget then
refuses early, and never lets spend past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from keyplane.limits.backend import (
    LEASE_SECONDS,
    BudgetChange,
    Demand,
    ScopeStatus,
    scope_status,
    thresholds_crossed,
)
from keyplane.limits.slots import slot_of

logger = logging.getLogger(__name__)

MIN_CALLS = 4  # a share must hold at least this many calls like the one asking
SWEEP_SECONDS = 0.25  # how often idle shares are given back and settled
MAX_TICKETS = 100_000  # calls admitted from shares and not settled, at most
MAX_UNSEEDED = 10_000  # scopes whose shares wait for a seed, remembered at most

Signature = tuple[Any, ...]
Renew = Callable[["Share", Sequence[Any], float], Awaitable[list[Any]]]


@dataclass(slots=True, eq=False)
class Share:
    """This instance's share of one scope's limits, and what its local calls did with it."""

    demand: Demand  # the shape of the scope's calls (limits, windows), amounts ignored
    id: str
    settles: bool  # whether a call's settle gives anything back (else it leaves no ticket)
    slot: int = -1  # the second the requests and tokens belong to
    active: bool = False
    requests: int = 0  # unused, in ``slot``
    tokens: int = 0
    parallel_held: int = 0  # members of the scope's set that are this share's
    parallel_in_use: int = 0
    budget_held: int = 0  # reserved in Redis under ``id``
    budget_in_flight: int = 0  # the worst cost of calls admitted and not settled
    unsettled_spend: int = 0  # what settled calls spent, not yet in Redis
    day: int = 0  # unused requests of the day
    true_ups: dict[int, int] = field(default_factory=dict)  # slot -> tokens to add
    calls: int = 0  # admitted in ``slot``: sizes the next share
    peak: int = 0  # parallel slots in use at most since the last renewal
    spent: int = 0  # the budget's spend in Redis at the last renewal
    alerted: int = 0  # spend up to which budget alerts were checked
    status: ScopeStatus | None = None
    renewing: asyncio.Future[None] | None = None
    asked: bool = False  # whether the last renewal asked for a share (else it gave back)
    calls_in_flight: int = 0  # admitted from this share and not settled
    # Which limits the scope has, fixed by its signature: read on every call, so flags here
    # rather than a chain of attributes of the demand's limits each time.
    rpm: bool = field(init=False)
    tpm: bool = field(init=False)
    parallel: bool = field(init=False)
    budgeted: bool = field(init=False)  # a budget with a window
    per_day: bool = field(init=False)

    def __post_init__(self) -> None:
        demand, rate = self.demand, self.demand.rate
        self.rpm = rate is not None and rate.requests_per_minute is not None
        self.tpm = rate is not None and rate.tokens_per_minute is not None
        self.parallel = rate is not None and rate.max_parallel_requests is not None
        self.budgeted = demand.budget is not None and demand.window is not None
        self.per_day = demand.requests_per_day is not None

    @property
    def budget_free(self) -> int:
        return self.budget_held - self.budget_in_flight - self.unsettled_spend

    def idle(self) -> bool:
        return not (
            self.active
            or self.calls_in_flight
            or self.parallel_held
            or self.budget_held
            or self.unsettled_spend
            or self.true_ups
        )


@dataclass(slots=True)  # made on every limited call: plain, not frozen (see Demand)
class LocalTicket:
    """A call admitted from shares: what its settle gives back to them."""

    shares: tuple[Share, ...]
    demands: tuple[Demand, ...]
    admitted_slot: int
    admitted_at: float  # monotonic, to forget tickets never settled


def settles(demand: Demand) -> bool:
    """Whether settling ``demand`` changes anything: a parallel slot to free, reserved
    tokens or spend to true up (not so for requests per minute or per day alone)."""
    rate = demand.rate
    if demand.budget is not None and demand.window is not None:
        return True
    return rate is not None and (
        rate.tokens_per_minute is not None or rate.max_parallel_requests is not None
    )


def signature(demand: Demand) -> Signature:
    """The scope and the shape of its limits, as plain values: a key hashed and compared in
    C, where the limits' own dataclasses would be hashed by Python code on every call (and
    compared too, once a key's cached record is reloaded)."""
    rate, budget = demand.rate, demand.budget
    return (
        demand.scope,
        None if rate is None else rate.requests_per_minute,
        None if rate is None else rate.tokens_per_minute,
        None if rate is None else rate.max_parallel_requests,
        None if budget is None else budget.limit_micro_usd,
        None if budget is None else budget.period,
        None if budget is None else budget.alert_thresholds,
        demand.window,
        demand.requests_per_day,
        demand.day,
    )


def _stale(share: Share, demand: Demand, slot: int) -> bool:
    """Whether ``share`` must be renewed before ``demand`` can be taken: it is being
    renewed, or is of a past second, or ran out, or was last only given back. A share that
    was refused in this second is not asked for again: its calls go to Redis (unless it was
    refused for a window not seeded yet, and the window has been seeded since: ``seeded``)."""
    if fits(share, demand, slot):
        return False
    return share.renewing is not None or share.slot != slot or share.active or not share.asked


def fits(share: Share, demand: Demand, slot: int) -> bool:
    """Whether ``demand`` (of ``share``'s signature) can be taken from ``share`` now, without
    asking Redis."""
    if not share.active or share.renewing is not None or share.slot != slot:
        return False
    if share.rpm and share.requests < demand.requests:
        return False
    if share.tpm and share.tokens < demand.tokens:
        return False
    if share.parallel and share.parallel_held - share.parallel_in_use < 1:
        return False
    if share.budgeted and share.budget_free < demand.cost:
        return False
    return not (share.per_day and share.day < demand.requests)


def take(share: Share, demand: Demand) -> ScopeStatus:
    """Take ``demand`` from ``share`` (``fits`` said it can) and say what is left."""
    share.calls += 1
    share.calls_in_flight += 1
    if share.rpm:
        share.requests -= demand.requests
    if share.tpm:
        share.tokens -= demand.tokens
    if share.parallel:
        share.parallel_in_use += 1
        if share.parallel_in_use > share.peak:
            share.peak = share.parallel_in_use
    if share.budgeted:
        share.budget_in_flight += demand.cost
    if share.per_day:
        share.day -= demand.requests
    return local_status(share)


def local_status(share: Share) -> ScopeStatus:
    """Redis's status at the last renewal, with this share's unused part counted as left."""
    status = share.status
    assert status is not None
    requests_remaining = status.requests_remaining
    if requests_remaining is not None:
        requests_remaining += share.requests
    tokens_remaining = status.tokens_remaining
    if tokens_remaining is not None:
        tokens_remaining += share.tokens
    return ScopeStatus(
        scope=status.scope,
        requests_limit=status.requests_limit,
        requests_remaining=requests_remaining,
        requests_reset=status.requests_reset,
        tokens_limit=status.tokens_limit,
        tokens_remaining=tokens_remaining,
        tokens_reset=status.tokens_reset,
        budget_limit=status.budget_limit,
        budget_spent=share.spent + share.unsettled_spend,
        budget_reserved=status.budget_reserved,
    )


def give_back(
    ticket: LocalTicket, demands: Sequence[Demand], *, tokens: int, cost: int, now: float
) -> list[BudgetChange]:
    """Settle a call admitted from shares, locally; Redis hears of it at the next renewal."""
    changes = []
    now_slot = slot_of(now)
    for share, demand in zip(ticket.shares, demands, strict=True):
        share.calls_in_flight -= 1
        if share.parallel and share.parallel_in_use > 0:
            share.parallel_in_use -= 1
        if share.tpm:
            ups = share.true_ups
            ups[ticket.admitted_slot] = ups.get(ticket.admitted_slot, 0) - demand.tokens
            ups[now_slot] = ups.get(now_slot, 0) + tokens
        if share.budgeted:
            assert demand.budget is not None
            assert demand.window is not None
            share.budget_in_flight = max(share.budget_in_flight - demand.cost, 0)
            share.unsettled_spend += cost
            if not demand.budget.alert_thresholds:
                continue
            after = share.spent + share.unsettled_spend
            before = min(share.alerted, after)
            share.alerted = after
            # Only a settlement that crossed a threshold is told: the others alert nobody.
            if thresholds_crossed(demand.budget, before, after):
                changes.append(
                    BudgetChange(demand.scope, demand.window, demand.budget, before, after)
                )
    return changes


def renewal_args(share: Share, asking: Demand | None) -> list[Any]:
    """The ``SHARE`` script's arguments after the demand's: what to give back and settle,
    and what to ask for (nothing when ``asking`` is None: the share is only given back)."""
    wants = [0] * 5
    least = [0] * 5
    if asking is not None:
        calls = max(2 * share.calls, 2 * MIN_CALLS)
        parallel = max(2 * share.peak, MIN_CALLS)
        wants = [
            calls * asking.requests,
            calls * asking.tokens,
            parallel,
            calls * asking.cost,
            calls * asking.requests,
        ]
        least = [
            MIN_CALLS * asking.requests,
            MIN_CALLS * asking.tokens,
            MIN_CALLS,
            MIN_CALLS * asking.cost,
            MIN_CALLS * asking.requests,
        ]
    ups = [value for pair in share.true_ups.items() for value in pair]
    return [
        share.slot,
        share.requests if share.active else 0,
        share.tokens if share.active else 0,
        share.parallel_held,
        share.parallel_in_use,
        share.unsettled_spend,
        share.budget_in_flight,
        share.day if share.active else 0,
        *wants,
        *least,
        len(share.true_ups),
        *ups,
    ]


def renewed(share: Share, sent: Sequence[Any], reply: Sequence[Any]) -> None:
    """Apply the ``SHARE`` script's reply to ``share``; ``sent`` is what ``renewal_args`` gave.

    Calls may have settled while the script ran: only what was sent is taken off.
    """
    code = int(reply[0])
    in_use, spend, in_flight = int(sent[4]), int(sent[5]), int(sent[6])
    ups = share.true_ups
    for j in range(int(sent[18])):
        at, delta = int(sent[19 + 2 * j]), int(sent[20 + 2 * j])
        left = ups.get(at, 0) - delta
        if left:
            ups[at] = left
        else:
            ups.pop(at, None)
    share.unsettled_spend -= spend
    share.calls = 0
    share.peak = share.parallel_in_use
    if code < 0:  # the window or day is not seeded: Redis lost it; the seed counts the spend
        share.active = False
        share.requests = share.tokens = share.day = share.budget_held = 0
        return
    granted = [int(value) for value in reply[1:6]]
    share.active = any(granted)
    share.requests, share.tokens, share.day = granted[0], granted[1], granted[4]
    share.parallel_held = in_use + granted[2]
    share.budget_held = in_flight + granted[3]
    share.spent = int(reply[7]) if int(reply[7]) >= 0 else share.spent
    if not share.alerted:
        share.alerted = share.spent
    share.status = scope_status(share.demand.scope, reply[8:17])


class Shares:
    """Every scope's share on this instance, renewed by ``renew`` (a ``SHARE`` script call)."""

    def __init__(self, renew: Renew, *, instance: str) -> None:
        self._renew = renew
        self._instance = instance
        self._shares: dict[Signature, Share] = {}
        # Shares refused because a window of their scope was not seeded, by scope: once it is,
        # they are asked for again, not left to send each call to Redis until the next second.
        self._unseeded: dict[str, set[Share]] = {}
        self._tickets: dict[str, LocalTicket] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._offset = time.time() - time.monotonic()  # the calls' clock, for the sweeper

    def share_of(self, demand: Demand) -> Share:
        key = signature(demand)
        share = self._shares.get(key)
        if share is None:
            share = self._shares[key] = Share(
                demand,
                f"{self._instance}:{len(self._shares):x}:{time.monotonic_ns():x}",
                settles=settles(demand),
            )
            if self._sweeper is None:
                self._sweeper = asyncio.create_task(self._sweep(), name="limits-share-sweeper")
        return share

    def admit_now(
        self, demands: Sequence[Demand], lease: str, now: float
    ) -> list[ScopeStatus] | None:
        """Admit from shares as they are, without waiting; None: a share must be renewed
        first (``admit``), or the call must ask Redis."""
        if len(self._tickets) >= MAX_TICKETS:
            return None  # settles that never came: Redis counts these calls one by one
        slot = slot_of(now)
        shares = [self.share_of(demand) for demand in demands]
        for share, demand in zip(shares, demands, strict=True):
            if not fits(share, demand, slot):
                return None
        statuses = [take(share, demand) for share, demand in zip(shares, demands, strict=True)]
        monotonic = time.monotonic()
        self._offset = now - monotonic
        if any(share.settles for share in shares):
            self._tickets[lease] = LocalTicket(tuple(shares), tuple(demands), slot, monotonic)
        return statuses

    async def admit(
        self, demands: Sequence[Demand], lease: str, now: float
    ) -> list[ScopeStatus] | None:
        """Admit from shares, renewing those of a past second or run out first; None: ask
        Redis."""
        self._offset = now - time.monotonic()
        slot = slot_of(now)
        pairs = [(self.share_of(demand), demand) for demand in demands]
        for _ in range(2):  # a second time if the renewal joined was only a give-back
            stale = [(share, demand) for share, demand in pairs if _stale(share, demand, slot)]
            if not stale:
                break
            await asyncio.gather(*(self.renew(share, demand, now) for share, demand in stale))
        return self.admit_now(demands, lease, now)

    def settle(
        self, lease: str, demands: Sequence[Demand], *, tokens: int, cost: int, now: float
    ) -> list[BudgetChange] | None:
        """Settle a call admitted from shares; None if it was not."""
        ticket = self._tickets.pop(lease, None)
        if ticket is None:
            return None
        return give_back(ticket, demands, tokens=tokens, cost=cost, now=now)

    async def renew(self, share: Share, asking: Demand | None, now: float) -> None:
        """Give back and settle ``share`` and, if ``asking``, take a new one (shared by the
        calls that need it at once)."""
        running = share.renewing
        if running is None:
            running = share.renewing = asyncio.ensure_future(self._run(share, asking, now))
        await asyncio.shield(running)

    async def _run(self, share: Share, asking: Demand | None, now: float) -> None:
        try:
            sent = renewal_args(share, asking)
            reply = await self._renew(share, sent, now)
            renewed(share, sent, reply)
            share.slot = slot_of(now)
            share.asked = asking is not None
            if int(reply[0]) < 0 and len(self._unseeded) < MAX_UNSEEDED:
                self._unseeded.setdefault(share.demand.scope, set()).add(share)
        finally:
            share.renewing = None

    def seeded(self, scope: str) -> None:
        """A window of ``scope`` is seeded now: its shares refused for want of it may be
        asked for again at once."""
        for share in self._unseeded.pop(scope, ()):
            share.asked = False

    def now(self) -> float:
        """The time on the clock the calls give (a test's, or the wall's), moving on."""
        return time.monotonic() + self._offset

    async def close(self) -> None:
        """Give every share back (best effort: what is not given back expires)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        now = self.now()
        held = [share for share in self._shares.values() if not share.idle()]
        with contextlib.suppress(Exception):
            await asyncio.gather(*(self.renew(share, None, now) for share in held))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep(self.now())
            except Exception:  # Redis away: the next sweep tries again; leases expire anyway
                logger.debug("could not give back limit shares", exc_info=True)

    async def sweep(self, now: float) -> None:
        """Give back the shares of past seconds, settle their calls, forget idle ones."""
        slot = slot_of(now)
        self._forget_tickets(time.monotonic() - LEASE_SECONDS)
        old = [
            share
            for share in self._shares.values()
            if share.renewing is None and share.slot < slot and not share.idle()
        ]
        await asyncio.gather(*(self.renew(share, None, now) for share in old))
        for key, share in list(self._shares.items()):
            if share.idle() and share.renewing is None and share.slot < slot:
                del self._shares[key]
        # A share of a past second is renewed by its next call anyway: no seed to wait for.
        self._unseeded = {
            scope: shares
            for scope, shares in self._unseeded.items()
            if any(share.slot >= slot for share in shares)
        }

    def _forget_tickets(self, before: float) -> None:
        """Calls never settled (a cancelled call) give back what they held, having spent
        nothing that Redis will hear of (the meter has what they spent)."""
        while self._tickets:
            lease, ticket = next(iter(self._tickets.items()))  # the oldest: kept in order
            if ticket.admitted_at > before:
                return
            del self._tickets[lease]
            give_back(ticket, ticket.demands, tokens=0, cost=0, now=self.now())

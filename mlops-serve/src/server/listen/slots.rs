//! Who gives up a place when the connection cap is reached.
//!
//! Every connection holds one of `cap` slots. A request whose body has not arrived yet is
//! *receiving*; at most `cap - cap / 8` receiving requests hold a *body unit*, which protects
//! them for as long as their body keeps up with [`MIN_BODY_RATE`] after a grace of
//! [`STALL_GRACE_MS`] (each body's *deadline*: its head's time + the grace + one millisecond
//! per byte received). A receiving request over the units is *on probation*: its deadline is
//! its head's time, so it is the first to make room; it takes a unit as soon as one is free
//! when more of its body arrives.
//!
//! At the cap a new connection takes the place of the connection furthest behind: an idle
//! one (no request in the service) is behind from one grace after its accept or its last
//! answer (so a fresh client sending its head, or one whose answer is being written, gives
//! way to those idle for longer); a request on probation from its head; a unit holder only
//! once past its deadline. A new request with a body that finds every unit held takes the unit of
//! a holder past its deadline, else goes on probation. Nothing else is ever cut, so by
//! construction:
//! - a request whose body arrived (the model is working on it) is never cut;
//! - a body that keeps arriving at the minimum rate while it holds a unit is never cut;
//! - bodies that stall can hold at most the units: the other `cap / 8` slots only ever hold
//!   idle connections, requests on probation and requests without a body, so a new
//!   connection (a health probe, a normal client) always finds a place, unless `cap / 8`
//!   requests without a body or with a body already received are in the service at once.
//!
//! Body states are one atomic word per connection (HTTP/1 serves one request at a time on a
//! connection): cutting a request is a compare-and-swap from the state that was seen past its
//! deadline, so a body that made progress (or ended) in between is not cut.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// How long a body may take before it must keep up with [`MIN_BODY_RATE`] to keep its unit
/// at the cap: legitimate bodies on loopback or a LAN arrive within milliseconds.
pub(crate) const STALL_GRACE_MS: u64 = 1_000;

/// The minimum rate, in bytes per second, at which a body holding a unit must arrive after
/// the grace to be safe at the cap (Apache's `RequestReadTimeout ... MinRate` is 500).
pub(crate) const MIN_BODY_RATE: u64 = 1_000;

/// The part of the cap bodies may not hold: one slot in eight.
pub(crate) const fn reserved(cap: usize) -> usize {
    cap / 8
}

/// The body state of a connection with no request receiving a body.
const NOT_RECEIVING: u64 = u64::MAX;

/// A receiving request's state: its deadline (ms since the accept loop started) and whether
/// it holds a unit, packed into one word so both change in one compare-and-swap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Receiving {
    deadline: u64,
    unit: bool,
}

impl Receiving {
    fn pack(self) -> u64 {
        (self.deadline.min(NOT_RECEIVING >> 2) << 1) | u64::from(self.unit)
    }

    fn unpack(word: u64) -> Option<Self> {
        (word != NOT_RECEIVING).then_some(Self {
            deadline: word >> 1,
            unit: word & 1 == 1,
        })
    }
}

/// The deadline of a body whose head arrived at `since` and that has received `bytes`.
pub(crate) fn deadline(since: u64, bytes: u64) -> u64 {
    since
        .saturating_add(STALL_GRACE_MS)
        .saturating_add(bytes.saturating_mul(1_000) / MIN_BODY_RATE)
}

/// The body units: how many receiving requests are protected at once.
#[derive(Debug)]
pub(crate) struct Units {
    limit: usize,
    held: AtomicUsize,
}

impl Units {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            limit: cap - reserved(cap),
            held: AtomicUsize::new(0),
        }
    }

    /// Takes a unit if one is free.
    fn take(&self) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.limit).then_some(held + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.held.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's body state: shared by its slot, its request and the request's body.
#[derive(Debug)]
pub(crate) struct BodyState(AtomicU64);

impl BodyState {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(NOT_RECEIVING))
    }

    /// The request's body has ended, failed or been dropped, or the request left the
    /// service: its unit (if any) is given back. Idempotent.
    pub(crate) fn finish(&self, units: &Units) {
        let was = self.0.swap(NOT_RECEIVING, Ordering::AcqRel);
        if Receiving::unpack(was).is_some_and(|r| r.unit) {
            units.give_back();
        }
    }

    /// The body, whose head arrived at `since`, has received `bytes` in all: moves its
    /// deadline, and takes a unit if it was on probation and one is free. Does nothing once
    /// the request was cut or finished.
    pub(crate) fn progress(&self, units: &Units, since: u64, bytes: u64) {
        let seen = self.0.load(Ordering::Acquire);
        let Some(now) = Receiving::unpack(seen) else {
            return;
        };
        let took = !now.unit && units.take();
        let next = if now.unit || took {
            Receiving {
                deadline: deadline(since, bytes),
                unit: true,
            }
        } else {
            now
        };
        if next != now
            && self
                .0
                .compare_exchange(seen, next.pack(), Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            && took
        {
            // Only a cut or a finish changes the word behind the body's back: it is over.
            units.give_back();
        }
    }
}

/// A served connection, as the cap sees it.
pub(crate) struct Slot {
    /// Requests of this connection in the service now.
    pub(crate) busy: Arc<AtomicUsize>,
    /// One grace after it last finished a request or was accepted, in ms since the loop
    /// started: from when it counts as idle (behind) for the cap.
    pub(crate) last_active: Arc<AtomicU64>,
    /// Its request's body, if one is being received.
    pub(crate) body: Arc<BodyState>,
    /// Closes it.
    pub(crate) evict: oneshot::Sender<()>,
}

/// The connections served, by id, and the body units.
pub(crate) struct Slots {
    cap: usize,
    by_id: HashMap<u64, Slot>,
    units: Arc<Units>,
}

impl Slots {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            by_id: HashMap::new(),
            units: Arc::new(Units::new(cap)),
        }
    }

    pub(crate) fn units(&self) -> Arc<Units> {
        Arc::clone(&self.units)
    }

    pub(crate) fn insert(&mut self, id: u64, slot: Slot) {
        self.by_id.insert(id, slot);
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.by_id.remove(&id);
    }

    /// Makes room for one more connection at `now` (ms since the loop started); `false`
    /// when none can be made.
    pub(crate) fn make_room(&mut self, now: u64) -> bool {
        self.by_id.len() < self.cap || self.cut(now, false).is_some()
    }

    /// Cuts the connection furthest behind at `now`: among idle connections (by when they
    /// became idle, a new one [`STALL_GRACE_MS`] after its accept), requests on probation
    /// and unit holders past their deadline; only the latter when `units_only`. Returns
    /// whether it held a unit, or `None` when no connection may be cut.
    fn cut(&mut self, now: u64, units_only: bool) -> Option<bool> {
        let (id, seen, _) = self
            .by_id
            .iter()
            .filter_map(|(&id, slot)| {
                let seen = slot.body.0.load(Ordering::Acquire);
                match Receiving::unpack(seen) {
                    Some(r) if r.unit && r.deadline <= now => Some((id, Some(seen), r.deadline)),
                    Some(r) if !r.unit && !units_only => Some((id, Some(seen), r.deadline)),
                    Some(_) => None,
                    None if !units_only && slot.busy.load(Ordering::Acquire) == 0 => {
                        Some((id, None, slot.last_active.load(Ordering::Acquire)))
                    }
                    None => None,
                }
            })
            .min_by_key(|&(_, _, behind_since)| behind_since)?;
        let mut unit = false;
        if let Some(seen) = seen {
            // It may have made progress or finished since it was seen: then it is not cut.
            self.by_id
                .get(&id)?
                .body
                .0
                .compare_exchange(seen, NOT_RECEIVING, Ordering::AcqRel, Ordering::Acquire)
                .ok()?;
            unit = Receiving::unpack(seen).is_some_and(|r| r.unit);
        }
        let slot = self.by_id.remove(&id)?;
        let _ = slot.evict.send(());
        if unit && !units_only {
            self.units.give_back();
        }
        Some(unit)
    }
}

/// A request with a body starts on a connection whose body state is `body`, at `now`: it
/// takes a free unit, else the unit of a holder past its deadline (which is cut), else goes
/// on probation. Returns whether it holds a unit.
pub(crate) fn start_body(slots: &Mutex<Slots>, units: &Units, body: &BodyState, now: u64) -> bool {
    let unit = units.take()
        || slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cut(now, true)
            .is_some();
    let state = if unit {
        Receiving {
            deadline: deadline(now, 0),
            unit: true,
        }
    } else {
        Receiving {
            deadline: now,
            unit: false,
        }
    };
    body.0.store(state.pack(), Ordering::Release);
    unit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(slots: &mut Slots, id: u64, busy: usize) -> (Arc<BodyState>, oneshot::Receiver<()>) {
        let body = Arc::new(BodyState::new());
        let (evict, evicted) = oneshot::channel();
        slots.insert(
            id,
            Slot {
                busy: Arc::new(AtomicUsize::new(busy)),
                last_active: Arc::new(AtomicU64::new(id)),
                body: Arc::clone(&body),
                evict,
            },
        );
        (body, evicted)
    }

    fn cut(evicted: &mut oneshot::Receiver<()>) -> bool {
        evicted.try_recv().is_ok()
    }

    #[test]
    fn states_pack_and_deadlines_follow_the_rate() {
        for r in [
            Receiving {
                deadline: 0,
                unit: false,
            },
            Receiving {
                deadline: 123_456,
                unit: true,
            },
        ] {
            assert_eq!(Receiving::unpack(r.pack()), Some(r));
        }
        assert_eq!(Receiving::unpack(NOT_RECEIVING), None);
        assert_eq!(deadline(500, 0), 500 + STALL_GRACE_MS);
        assert_eq!(
            deadline(500, MIN_BODY_RATE * 3),
            500 + STALL_GRACE_MS + 3_000
        );
        assert_eq!(reserved(3), 0);
        assert_eq!(reserved(32), 4);
    }

    #[test]
    fn stalled_bodies_hold_at_most_the_units_and_make_room_past_their_deadline() {
        // Cap 16: 14 units, 2 slots bodies may not hold.
        let mutex = Mutex::new(Slots::new(16));
        let units = mutex.lock().unwrap().units();
        let mut held = Vec::new();
        for id in 0..16 {
            let (body, evicted) = slot(&mut mutex.lock().unwrap(), id, 1);
            let unit = start_body(&mutex, &units, &body, 0);
            assert_eq!(unit, id < 14, "request {id}");
            held.push((body, evicted));
        }
        // At 10 ms every slot is taken: the two on probation make room first, and the units
        // are untouched. Their places go to requests whose body was received (busy, no body
        // state).
        let mut slots = mutex.lock().unwrap();
        assert!(slots.make_room(10));
        slot(&mut slots, 100, 1);
        assert!(slots.make_room(10));
        slot(&mut slots, 101, 1);
        for (id, (_, evicted)) in held.iter_mut().enumerate() {
            assert_eq!(cut(evicted), id >= 14, "request {id}");
        }
        // Nothing can be cut before the grace has passed.
        assert!(!slots.make_room(STALL_GRACE_MS - 1));
        // Past the grace, a unit holder makes room and its unit is given back.
        assert!(slots.make_room(STALL_GRACE_MS));
        assert_eq!(units.held.load(Ordering::Acquire), 13);
    }

    #[test]
    fn the_connection_furthest_behind_makes_room_and_a_fresh_one_gives_way() {
        // Cap 2: two units, both held from 0 (deadline 1,000); a request on probation from
        // 5; a keep-alive connection behind from 7; a new connection accepted at 10 (behind
        // from 1,010). Slots are keyed by when they are behind.
        let mutex = Mutex::new(Slots::new(2));
        let units = mutex.lock().unwrap().units();
        let mut cuts = Vec::new();
        for (id, busy, start) in [(1, 1, Some(0)), (2, 1, Some(0)), (5, 1, Some(5))] {
            let (body, evicted) = slot(&mut mutex.lock().unwrap(), id, busy);
            if let Some(now) = start {
                start_body(&mutex, &units, &body, now);
            }
            cuts.push((id, evicted));
        }
        for id in [7, 1_010] {
            let (_, evicted) = slot(&mut mutex.lock().unwrap(), id, 0);
            cuts.push((id, evicted));
        }
        let mut slots = mutex.lock().unwrap();
        let mut order = Vec::new();
        while slots.cut(20, false).is_some() {
            let gone = cuts.iter_mut().find_map(|(id, e)| cut(e).then_some(*id));
            order.push(gone.unwrap());
        }
        // The unit holders are not behind yet: they stay.
        assert_eq!(order, [5, 7, 1_010]);
        assert_eq!(slots.cut(STALL_GRACE_MS, false), Some(true));
        assert_eq!(units.held.load(Ordering::Acquire), 1);
    }

    #[test]
    fn a_body_that_keeps_up_with_the_rate_is_never_cut() {
        let mutex = Mutex::new(Slots::new(8));
        let units = mutex.lock().unwrap().units();
        let (slow, mut slow_cut) = slot(&mut mutex.lock().unwrap(), 0, 1);
        assert!(start_body(&mutex, &units, &slow, 0));
        let mut stalled = Vec::new();
        for id in 1..8 {
            let (body, evicted) = slot(&mut mutex.lock().unwrap(), id, 1);
            start_body(&mutex, &units, &body, 0);
            stalled.push((body, evicted));
        }
        // The slow body receives MIN_BODY_RATE bytes a second; every second from the grace
        // on, new requests need units and connections need places.
        for second in 1..=20u64 {
            let now = second * 1_000;
            slow.progress(&units, 0, MIN_BODY_RATE * second);
            let (body, _) = slot(&mut mutex.lock().unwrap(), 100 + second, 1);
            start_body(&mutex, &units, &body, now);
            mutex.lock().unwrap().make_room(now);
        }
        assert!(!cut(&mut slow_cut), "a body at the minimum rate was cut");
        assert!(stalled.iter_mut().all(|(_, e)| cut(e)));
    }

    #[test]
    fn a_body_that_progressed_since_it_was_seen_is_not_cut_and_units_are_counted_once() {
        let mutex = Mutex::new(Slots::new(1));
        let units = mutex.lock().unwrap().units();
        let (body, _) = slot(&mut mutex.lock().unwrap(), 0, 1);
        assert!(start_body(&mutex, &units, &body, 0));
        body.progress(&units, 0, 10);
        body.finish(&units);
        body.finish(&units);
        assert_eq!(units.held.load(Ordering::Acquire), 0);
        // Finished: nothing to cut, and progress after the finish takes nothing.
        body.progress(&units, 0, 20);
        assert_eq!(units.held.load(Ordering::Acquire), 0);
        assert!(!mutex.lock().unwrap().make_room(10_000));
        // On probation (no unit free), it takes one when one frees and more arrives.
        let other = BodyState::new();
        assert!(start_body(&mutex, &units, &other, 0));
        let (late, _) = slot(&mut mutex.lock().unwrap(), 1, 1);
        late.0.store(
            Receiving {
                deadline: 5,
                unit: false,
            }
            .pack(),
            Ordering::Release,
        );
        late.progress(&units, 5, 100);
        assert_eq!(
            Receiving::unpack(late.0.load(Ordering::Acquire)).map(|r| r.unit),
            Some(false)
        );
        other.finish(&units);
        late.progress(&units, 5, 200);
        assert_eq!(
            Receiving::unpack(late.0.load(Ordering::Acquire)),
            Some(Receiving {
                deadline: deadline(5, 200),
                unit: true
            })
        );
        assert_eq!(units.held.load(Ordering::Acquire), 1);
    }
}

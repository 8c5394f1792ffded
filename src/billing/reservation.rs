//! The `Reservation`: the one way a paid request takes money and capacity. Opened before the
//! upstream call — admission in the user's limiter and the hold in D1, in parallel — it is
//! closed exactly once: `settle` (the request ran: charge what it used, give the capacity
//! back) or `abandon` (it never reached the model: charge nothing, give everything back).
//! Dropping one unclosed is logged as the bug it is; a worker that dies leaves the hold to the
//! sweeper, which charges the prompt.

use futures_util::future::join;
use serde_json::json;
use worker::{Context, Env};

use super::money::Nanos;
use super::usage::{TokenPrices, TokenUsage};
use super::{BillingMode, SettleStatus};
use crate::db::{Db, NewHold, Settlement};
use crate::error::ApiResult;
use crate::limits::client::{self, Lease};
use crate::limits::policy::{Admission, Limits};
use crate::time;

/// How a request's consumption is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meter {
    Tokens(TokenPrices),
    /// A fixed price per unit made (an image).
    PerUnit(Nanos),
}

/// What a request consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumption {
    Tokens { usage: TokenUsage, estimated: bool },
    Units(u64),
}

impl Consumption {
    pub fn tokens(&self) -> TokenUsage {
        match self {
            Consumption::Tokens { usage, .. } => *usage,
            Consumption::Units(_) => TokenUsage::default(),
        }
    }

    pub fn estimated(&self) -> bool {
        matches!(self, Consumption::Tokens { estimated: true, .. })
    }
}

/// What a finished request used and cost, as the answers show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub consumption: Consumption,
    /// What was (or will be) charged.
    pub cost: Nanos,
    /// The balance after the charge: only when the settlement was waited for.
    pub balance_after: Option<Nanos>,
    pub mode: BillingMode,
}

impl Bill {
    pub fn usage(&self) -> TokenUsage {
        self.consumption.tokens()
    }

    pub fn estimated(&self) -> bool {
        self.consumption.estimated()
    }
}

/// Rounds a cost up to the next whole micro-dollar: every ledger amount is whole micro-dollars,
/// so the entries as shown add up to the balance as shown.
pub fn whole_micros(cost: Nanos) -> Nanos {
    let micros = (cost.0.max(0) as u64).div_ceil(1000);
    Nanos(i64::try_from(micros.saturating_mul(1000)).unwrap_or(i64::MAX))
}

/// Everything about the request a reservation is for.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub request_id: &'a str,
    pub user_id: i64,
    pub api_key_id: Option<&'a str>,
    pub model: &'a str,
    pub provider: &'a str,
    /// The plan's price group (1,000,000 = 1×), recorded on the usage row.
    pub price_multiplier_ppm: i64,
    pub limits: Limits,
    /// A lite model's request that may use the daily free allowance.
    pub free_eligible: bool,
    /// Tokens counted against the TPM window until the release corrects them.
    pub reserve_tokens: u64,
    /// The worst case if paid (placed as the hold), and the prompt's own cost.
    pub hold: Nanos,
    pub prompt_cost: Nanos,
    pub prompt_tokens: u64,
    pub meter: Meter,
    pub lease_ms: i64,
    pub utc_offset_secs: i64,
    /// The balance as authentication read it: a hold it can't cover is not even tried (most
    /// free users have nothing on the balance; their lite requests then write nothing to D1).
    pub known_balance: Nanos,
}

/// A hold placed after admission (`Reservation::hold_now`).
#[derive(Debug, Clone, Copy)]
pub struct HoldAsk {
    pub amount: Nanos,
    pub prompt_cost: Nanos,
    pub prompt_tokens: u64,
    pub known_balance: Nanos,
}

/// Why a reservation could not be opened.
#[derive(Debug, Clone)]
pub enum Refused {
    /// The limiter said no (rate, tokens or concurrency).
    Limited(Admission),
    /// Not free, and the balance (beyond other holds) can't cover the hold.
    Balance {
        admission: Admission,
        available: Nanos,
        needed: Nanos,
    },
}

#[must_use = "a reservation must be settled or abandoned"]
pub struct Reservation {
    env: Env,
    request_id: String,
    user_id: i64,
    api_key_id: Option<String>,
    model: String,
    provider: String,
    /// The route that served (`provider/upstream_id`), once one answered.
    route: Option<String>,
    price_multiplier_ppm: i64,
    pub mode: BillingMode,
    /// The amount held, when one is (paid requests with a non-zero worst case).
    pub hold: Option<Nanos>,
    meter: Meter,
    lease: Lease,
    pub admission: Admission,
    started_ms: u64,
    closed: bool,
}

impl Reservation {
    /// Admission and hold in parallel: one round trip's wait. A premium request is never free,
    /// so its hold is needed; a lite one's is placed in case the allowance is spent, and
    /// released after the answer when it was not needed.
    pub async fn open(env: &Env, ctx: &Context, ask: &Ask<'_>) -> ApiResult<Result<Reservation, Refused>> {
        let now = time::now_secs();
        let db = Db::from_env(env)?;
        let wants_hold = ask.hold.0 > 0;
        let new_hold = NewHold {
            request_id: ask.request_id,
            user_id: ask.user_id,
            amount: ask.hold.0,
            prompt_cost: ask.prompt_cost.0,
            prompt_tokens: i64::try_from(ask.prompt_tokens).unwrap_or(i64::MAX),
            model: ask.model,
            provider: ask.provider,
            api_key_id: ask.api_key_id,
            now,
        };
        let admitting = client::admit(
            env,
            ask.request_id,
            ask.user_id,
            ask.limits,
            ask.free_eligible,
            ask.reserve_tokens,
            ask.lease_ms,
            ask.utc_offset_secs,
        );
        let holding = async {
            if !wants_hold {
                Ok(None)
            } else if ask.known_balance < ask.hold {
                Ok(Some(crate::db::HoldPlaced {
                    placed: false,
                    available_before: ask.known_balance.0,
                }))
            } else {
                db.place_hold(&new_hold).await.map(Some)
            }
        };
        let (admitted, held) = join(admitting, holding).await;
        let hold_placed = held.as_ref().ok().and_then(|h| h.map(|h| h.placed)) == Some(true);
        let give_back_hold = |env: &Env| {
            if hold_placed {
                release_hold_later(env, ctx, ask.request_id);
            }
        };
        let (admission, lease) = match admitted {
            Ok(admitted) => admitted,
            Err(error) => {
                give_back_hold(env);
                return Err(error);
            }
        };
        if admission.refused.is_some() {
            give_back_hold(env);
            return Ok(Err(Refused::Limited(admission)));
        }
        let mode = if admission.free {
            BillingMode::Free
        } else {
            match ask.meter {
                Meter::Tokens(_) => BillingMode::PerToken,
                Meter::PerUnit(_) => BillingMode::PerImage,
            }
        };
        let hold = match mode {
            BillingMode::Free => {
                // Not needed after all: a free request holds nothing.
                give_back_hold(env);
                None
            }
            _ if !wants_hold => None,
            _ => {
                let placed = match held {
                    Ok(placed) => placed,
                    Err(error) => {
                        lease.refund_later(env, ctx);
                        return Err(error);
                    }
                };
                match placed {
                    Some(placed) if placed.placed => Some(ask.hold),
                    other => {
                        lease.refund_later(env, ctx);
                        return Ok(Err(Refused::Balance {
                            admission,
                            available: Nanos(other.map_or(0, |p| p.available_before)),
                            needed: ask.hold,
                        }));
                    }
                }
            }
        };
        Ok(Ok(Reservation {
            env: env.clone(),
            request_id: ask.request_id.to_owned(),
            user_id: ask.user_id,
            api_key_id: ask.api_key_id.map(str::to_owned),
            model: ask.model.to_owned(),
            provider: ask.provider.to_owned(),
            route: None,
            price_multiplier_ppm: ask.price_multiplier_ppm,
            mode,
            hold,
            meter: ask.meter,
            lease,
            admission,
            started_ms: time::now_ms(),
            closed: false,
        }))
    }

    /// Places the hold of a reservation opened without one, once the request's real size is
    /// known (its uploaded files were read after admission). A free request needs none. When the
    /// balance can't cover it the reservation is given back and the refusal returned.
    pub async fn hold_now(&mut self, hold: &HoldAsk) -> ApiResult<Result<(), (Nanos, Nanos)>> {
        if self.mode == BillingMode::Free || hold.amount.0 <= 0 {
            return Ok(Ok(()));
        }
        let refused = |available: i64| Ok(Err((Nanos(available), hold.amount)));
        if hold.known_balance < hold.amount {
            return refused(hold.known_balance.0);
        }
        let placed = Db::from_env(&self.env)?
            .place_hold(&NewHold {
                request_id: &self.request_id,
                user_id: self.user_id,
                amount: hold.amount.0,
                prompt_cost: hold.prompt_cost.0,
                prompt_tokens: i64::try_from(hold.prompt_tokens).unwrap_or(i64::MAX),
                model: &self.model,
                provider: &self.provider,
                api_key_id: self.api_key_id.as_deref(),
                now: time::now_secs(),
            })
            .await;
        match placed {
            Ok(placed) if placed.placed => {
                self.hold = Some(hold.amount);
                Ok(Ok(()))
            }
            Ok(placed) => refused(placed.available_before),
            Err(error) => Err(error),
        }
    }

    /// The route that answered: its provider and name go on the usage row.
    pub fn served_by(&mut self, provider: &str, route: &str) {
        self.provider = provider.to_owned();
        self.route = Some(route.to_owned());
    }

    /// Gives the reservation back before anything was asked of the model and before any hold:
    /// the limiter's slot and request are refunded, nothing is recorded.
    pub fn cancel(mut self, ctx: &Context) {
        self.closed = true;
        if self.hold.is_some() {
            release_hold_later(&self.env, ctx, &self.request_id);
        }
        self.lease.refund_later(&self.env, ctx);
    }

    /// What `consumption` costs at this request's prices, and what will be taken for it.
    pub fn price(&self, consumption: &Consumption) -> (Nanos, Nanos) {
        if self.mode == BillingMode::Free {
            return (Nanos::ZERO, Nanos::ZERO);
        }
        let cost = match (self.meter, consumption) {
            (Meter::Tokens(prices), Consumption::Tokens { usage, .. }) => usage.cost(&prices),
            (Meter::PerUnit(price), Consumption::Units(units)) => {
                Nanos(price.0.saturating_mul(i64::try_from(*units).unwrap_or(i64::MAX)))
            }
            _ => Nanos::ZERO,
        };
        let to_charge = if self.hold.is_some() {
            whole_micros(cost)
        } else {
            Nanos::ZERO
        };
        (cost, to_charge)
    }

    /// The bill without asking the database, when it is certain: the charge fits in the hold
    /// (so the balance can't cap it). `None` when only the settlement can tell.
    pub fn bill_ahead(&self, consumption: Consumption) -> Option<Bill> {
        let (_, to_charge) = self.price(&consumption);
        let fits = self.hold.is_none_or(|hold| to_charge <= hold);
        fits.then_some(Bill {
            consumption,
            cost: to_charge,
            balance_after: None,
            mode: self.mode,
        })
    }

    /// A streaming request is alive: the sweeper must leave its hold, the limiter its lease.
    pub async fn renew(&self, lease_ms: i64) {
        let hold = async {
            if self.hold.is_some() {
                if let Ok(db) = Db::from_env(&self.env) {
                    if let Err(error) = db.renew_hold(&self.request_id, time::now_secs()).await {
                        worker::console_warn!(
                            "[{}] hold renewal failed: {:?}",
                            self.request_id,
                            error.internal
                        );
                    }
                }
            }
        };
        join(hold, self.lease.renew(&self.env, lease_ms)).await;
    }

    /// Charges what the request used (the settle batch retried on failure: it is idempotent)
    /// and gives back the capacity, in parallel. Returns the bill with the balance after it.
    pub async fn settle(mut self, consumption: Consumption, status: SettleStatus) -> ApiResult<Bill> {
        self.closed = true;
        let (cost, to_charge) = self.price(&consumption);
        let usage = consumption.tokens();
        let units = match consumption {
            Consumption::Units(units) => Some(units),
            Consumption::Tokens { .. } => None,
        };
        let detail = json!({
            "model": self.model,
            "tokens_in": usage.input,
            "tokens_out": usage.output,
            "tokens_cached": usage.cache_read,
            "images": units,
            "estimated": consumption.estimated(),
            "cost_nanos": cost.0,
        })
        .to_string();
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let settlement = Settlement {
            request_id: &self.request_id,
            user_id: self.user_id,
            api_key_id: self.api_key_id.as_deref(),
            model: &self.model,
            provider: &self.provider,
            tokens_in: clamp(usage.input),
            tokens_out: clamp(usage.output),
            tokens_cached: clamp(usage.cache_read),
            tokens_cache_write: clamp(usage.cache_write()),
            tokens_reasoning: clamp(usage.reasoning),
            estimated: consumption.estimated(),
            cost: cost.0,
            to_charge: to_charge.0,
            billing_mode: self.mode.as_str(),
            status: status.as_str(),
            latency_ms: clamp(time::now_ms().saturating_sub(self.started_ms)),
            detail: &detail,
            has_hold: self.hold.is_some(),
            now: time::now_secs(),
            route: self.route.as_deref(),
            price_multiplier_ppm: Some(self.price_multiplier_ppm),
        };
        let settling = settle_with_retries(&self.env, &settlement);
        let releasing = self.lease.release(&self.env, usage.total());
        let (settled, ()) = join(settling, releasing).await;
        let settled = settled?;
        if to_charge.0 > settled.charged {
            worker::console_warn!(
                "[{}] overrun: the cost ({} nanos) is more than the balance could give; took {} nanos",
                self.request_id,
                to_charge.0,
                settled.charged
            );
        }
        Ok(Bill {
            consumption,
            cost: Nanos(settled.charged),
            balance_after: Some(Nanos(settled.balance)),
            mode: self.mode,
        })
    }

    /// The request never reached the model: nothing is charged, the hold and the request's
    /// capacity (and its free allowance) are given back, and a usage row says why.
    pub async fn abandon(mut self, code: String) {
        self.closed = true;
        let releasing = async {
            let db = Db::from_env(&self.env)?;
            if self.hold.is_some() {
                db.release_hold(&self.request_id, time::now_secs()).await?;
            }
            let detail = json!({ "error": code }).to_string();
            db.settle(&Settlement {
                request_id: &self.request_id,
                user_id: self.user_id,
                api_key_id: self.api_key_id.as_deref(),
                model: &self.model,
                provider: &self.provider,
                tokens_in: 0,
                tokens_out: 0,
                tokens_cached: 0,
                tokens_cache_write: 0,
                tokens_reasoning: 0,
                estimated: false,
                cost: 0,
                to_charge: 0,
                billing_mode: self.mode.as_str(),
                status: SettleStatus::UpstreamError.as_str(),
                latency_ms: i64::try_from(time::now_ms().saturating_sub(self.started_ms)).unwrap_or(i64::MAX),
                detail: &detail,
                has_hold: false,
                now: time::now_secs(),
                route: None,
                price_multiplier_ppm: Some(self.price_multiplier_ppm),
            })
            .await
            .map(|_| ())
        };
        let (released, ()) = join(releasing, self.lease.refund(&self.env)).await;
        if let Err(error) = released {
            worker::console_error!(
                "[{}] could not record a failed request: {:?}",
                self.request_id,
                error.internal
            );
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.closed {
            worker::console_error!(
                "[{}] a reservation was dropped unclosed; the sweeper will settle its hold",
                self.request_id
            );
        }
    }
}

/// Pauses between settle attempts: a D1 hiccup (busy, a lost connection) is usually short.
const SETTLE_BACKOFF_MS: [u64; 4] = [200, 1000, 3000, 6000];

async fn settle_with_retries(env: &Env, settlement: &Settlement<'_>) -> ApiResult<crate::db::Settled> {
    let mut attempt = 0;
    loop {
        let result = async { Db::from_env(env)?.settle(settlement).await }.await;
        match result {
            Ok(settled) => return Ok(settled),
            Err(error) if attempt < SETTLE_BACKOFF_MS.len() => {
                worker::console_warn!(
                    "[{}] settle attempt {} failed ({:?}); retrying",
                    settlement.request_id,
                    attempt + 1,
                    error.internal
                );
                worker::Delay::from(std::time::Duration::from_millis(SETTLE_BACKOFF_MS[attempt])).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Gives a hold back without making the answer wait for it.
fn release_hold_later(env: &Env, ctx: &Context, request_id: &str) {
    let env = env.clone();
    let request_id = request_id.to_owned();
    ctx.wait_until(async move {
        let released = async {
            Db::from_env(&env)?
                .release_hold(&request_id, time::now_secs())
                .await
        }
        .await;
        if let Err(error) = released {
            worker::console_error!("[{request_id}] hold release failed: {:?}", error.internal);
        }
    });
}

/// Settles an abandoned hold (its worker died): the prompt's cost is charged — the upstream was
/// called and bills its input — never more than the hold, never the whole worst case.
pub async fn settle_abandoned(db: &Db, hold: &crate::db::StaleHold, now: i64) -> ApiResult<()> {
    let to_charge = whole_micros(Nanos(hold.prompt_cost_nanos.min(hold.amount_nanos)));
    let detail = json!({
        "model": hold.model,
        "abandoned": true,
        "prompt_tokens": hold.prompt_tokens,
        "cost_nanos": hold.prompt_cost_nanos,
    })
    .to_string();
    db.settle(&Settlement {
        request_id: &hold.request_id,
        user_id: hold.user_id,
        api_key_id: hold.api_key_id.as_deref(),
        model: if hold.model.is_empty() {
            "unknown"
        } else {
            &hold.model
        },
        provider: if hold.provider.is_empty() {
            "unknown"
        } else {
            &hold.provider
        },
        tokens_in: hold.prompt_tokens,
        tokens_out: 0,
        tokens_cached: 0,
        tokens_cache_write: 0,
        tokens_reasoning: 0,
        estimated: true,
        cost: hold.prompt_cost_nanos,
        to_charge: to_charge.0,
        billing_mode: BillingMode::PerToken.as_str(),
        status: SettleStatus::Abandoned.as_str(),
        latency_ms: (now - hold.created_at).saturating_mul(1000),
        detail: &detail,
        has_hold: true,
        // Neither is kept on the hold: the worker that knew them died.
        route: None,
        price_multiplier_ppm: None,
        now,
    })
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_round_up_to_whole_micro_dollars() {
        assert_eq!(whole_micros(Nanos(0)), Nanos(0));
        assert_eq!(whole_micros(Nanos(1)), Nanos(1000));
        assert_eq!(whole_micros(Nanos(308_700)), Nanos(309_000));
        assert_eq!(whole_micros(Nanos(309_000)), Nanos(309_000));
    }
}

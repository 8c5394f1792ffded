//! A user's effective plan: the plan row, with a lapsed subscription falling back and per-user
//! overrides (enterprise) applied.

use serde::{Deserialize, Serialize};

use super::policy::Limits;
use crate::db::{Db, PlanRow, UserRow};
use crate::error::{ApiError, ApiResult};

/// Per-user values that replace the plan's (any subset).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_lite_requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt_allowed: Option<bool>,
}

impl Overrides {
    /// Every value must be positive (a zero allowance is allowed).
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            ("daily_lite_requests", self.daily_lite_requests, 0),
            ("rpm", self.rpm, 1),
            ("tpm", self.tpm, 1),
            ("concurrent_requests", self.concurrent_requests, 1),
            ("max_output_tokens", self.max_output_tokens, 1),
        ];
        for (name, value, min) in checks {
            if value.is_some_and(|v| v < min || v > 1_000_000_000) {
                return Err(format!("`{name}` must be from {min} to 1000000000."));
            }
        }
        Ok(())
    }

    pub fn apply(&self, plan: &mut PlanRow) {
        plan.daily_lite_requests = self.daily_lite_requests.unwrap_or(plan.daily_lite_requests);
        plan.rpm = self.rpm.unwrap_or(plan.rpm);
        plan.tpm = self.tpm.unwrap_or(plan.tpm);
        plan.concurrent_requests = self.concurrent_requests.unwrap_or(plan.concurrent_requests);
        plan.max_output_tokens = self.max_output_tokens.unwrap_or(plan.max_output_tokens);
        if let Some(allowed) = self.system_prompt_allowed {
            plan.system_prompt_allowed = i64::from(allowed);
        }
    }
}

impl PlanRow {
    pub fn limits(&self) -> Limits {
        Limits {
            daily_lite_requests: self.daily_lite_requests,
            rpm: self.rpm,
            tpm: self.tpm,
            concurrent_requests: self.concurrent_requests,
        }
    }
}

/// The plans the gateway itself names. Every other plan (`pro`, `pro_plus`, `enterprise`, any an
/// operator adds) is a row of `plans`, known by its id alone; these two are rows too, but the
/// rules below move accounts onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinPlan {
    /// Where an account starts: the daily free allowance, no system prompt.
    Free,
    /// Pay as you go: where the first money on the balance moves a free account.
    Payg,
}

impl BuiltinPlan {
    pub fn as_str(self) -> &'static str {
        match self {
            BuiltinPlan::Free => "free",
            BuiltinPlan::Payg => "payg",
        }
    }

    /// Where a bought month that has lapsed falls back: pay-as-you-go when the user has money,
    /// else free (the auth query in `db` says the same in SQL).
    pub fn after_lapse(balance_nanos: i64) -> BuiltinPlan {
        if balance_nanos > 0 {
            BuiltinPlan::Payg
        } else {
            BuiltinPlan::Free
        }
    }
}

/// The plan id in force: the user's, or where a lapsed bought month falls back.
pub fn plan_in_force(user: &UserRow, now: i64) -> &str {
    match user.plan_expires_at {
        Some(expires) if expires <= now => BuiltinPlan::after_lapse(user.balance_nanos).as_str(),
        _ => &user.plan,
    }
}

/// The user's per-user overrides, if any.
pub fn overrides_of(user: &UserRow) -> ApiResult<Option<Overrides>> {
    user.limits_override
        .as_deref()
        .map(|raw| {
            serde_json::from_slice(raw.as_bytes()).map_err(|e| {
                ApiError::internal(format!("user {} has unreadable limits_override: {e}", user.id))
            })
        })
        .transpose()
}

/// Whether the user may set a system prompt (Stone's `/api/chat`, shown in `/auth/me`), a "paid
/// user": an operator's override decides when set, `false` included; otherwise a plan that
/// allows it, or money on the balance. `plan` is the plan in force.
pub fn system_prompt_allowed(user: &UserRow, plan: &PlanRow) -> bool {
    match overrides_of(user)
        .ok()
        .flatten()
        .and_then(|o| o.system_prompt_allowed)
    {
        Some(decided) => decided,
        None => plan.system_prompt_allowed == 1 || user.balance_nanos > 0,
    }
}

/// The plan row in force with the user's overrides applied.
pub fn with_overrides(user: &UserRow, mut plan: PlanRow) -> ApiResult<PlanRow> {
    if let Some(overrides) = overrides_of(user)? {
        overrides.apply(&mut plan);
    }
    Ok(plan)
}

pub async fn effective(db: &Db, user: &UserRow, now: i64) -> ApiResult<PlanRow> {
    let id = plan_in_force(user, now);
    let plan = db
        .plan(id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("user {} has unknown plan {id}", user.id)))?;
    with_overrides(user, plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> PlanRow {
        PlanRow {
            price_multiplier_ppm: crate::db::UNIT_MULTIPLIER_PPM,
            id: "enterprise".into(),
            name: "Enterprise".into(),
            daily_lite_requests: 2000,
            rpm: 1000,
            tpm: 4_000_000,
            concurrent_requests: 100,
            max_output_tokens: 8192,
            system_prompt_allowed: 1,
        }
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let mut row = plan();
        Overrides {
            daily_lite_requests: Some(15),
            system_prompt_allowed: Some(false),
            ..Default::default()
        }
        .apply(&mut row);
        assert_eq!(
            (row.daily_lite_requests, row.rpm, row.system_prompt_allowed),
            (15, 1000, 0)
        );
    }

    #[test]
    fn overrides_are_validated() {
        assert!(Overrides {
            rpm: Some(0),
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(Overrides {
            daily_lite_requests: Some(0),
            ..Default::default()
        }
        .validate()
        .is_ok());
        assert!(serde_json::from_slice::<Overrides>(r#"{"rpmm": 3}"#.as_bytes()).is_err());
    }

    #[test]
    fn a_lapsed_month_falls_back_by_balance() {
        let mut user = UserRow {
            id: 1,
            email: "a@b.co".into(),
            password_hash: None,
            plan: "pro".into(),
            balance_nanos: 0,
            token_version: 0,
            plan_expires_at: Some(100),
            limits_override: None,
            created_at: 0,
        };
        assert_eq!(plan_in_force(&user, 99), "pro");
        assert_eq!(plan_in_force(&user, 100), "free");
        user.balance_nanos = 1;
        assert_eq!(plan_in_force(&user, 100), "payg");
    }

    #[test]
    fn an_override_decides_the_system_prompt_over_plan_and_balance() {
        let mut user = UserRow {
            id: 1,
            email: "a@b.co".into(),
            password_hash: None,
            plan: "enterprise".into(),
            balance_nanos: 1,
            token_version: 0,
            plan_expires_at: None,
            limits_override: None,
            created_at: 0,
        };
        assert!(system_prompt_allowed(&user, &plan()));
        user.limits_override = Some(r#"{"system_prompt_allowed": false}"#.into());
        assert!(!system_prompt_allowed(
            &user,
            &with_overrides(&user, plan()).unwrap()
        ));
        let mut free = plan();
        free.system_prompt_allowed = 0;
        user.balance_nanos = 0;
        user.limits_override = Some(r#"{"system_prompt_allowed": true}"#.into());
        assert!(system_prompt_allowed(&user, &free));
        user.limits_override = None;
        assert!(!system_prompt_allowed(&user, &free));
    }
}

// The operator's page: behind ADMIN_TOKEN (kept in this tab's memory only, never stored).
import { useState } from 'preact/hooks';
import { html, usd, num, when, Field, SelectField, ErrorLine, Notice, useAction } from './ui.js';
import { t } from './i18n.js';
import { api } from './api.js';

const OVERRIDES = ['daily_lite_requests', 'rpm', 'tpm', 'concurrent_requests', 'max_output_tokens'];

function UserCard({ user, token, plans, onChanged }) {
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [plan, setPlan] = useState(user.plan);
  const [overrides, setOverrides] = useState(() =>
    Object.fromEntries(OVERRIDES.map((k) => [k, user.limits_override?.[k] != null ? String(user.limits_override[k]) : ''])),
  );
  const credit = useAction();
  const setPlanAction = useAction();
  const doCredit = (e) => {
    e.preventDefault();
    credit.run(async () => {
      const answer = await api(`/admin/users/${user.id}/credit`, {
        method: 'POST',
        bearer: token,
        body: { amount_usd: Number(amount.replace(',', '.')), reference: reference.trim() },
      });
      await onChanged();
      return answer.replayed ? t('admin.replayed') : t('admin.credited', { amount: usd(answer.amount_usd ?? Number(amount)), balance: usd(answer.balance_usd) });
    });
  };
  const doPlan = (e) => {
    e.preventDefault();
    setPlanAction.run(async () => {
      const chosen = Object.fromEntries(
        Object.entries(overrides)
          .filter(([, v]) => v.trim() !== '')
          .map(([k, v]) => [k, Number(v)]),
      );
      const body = { plan };
      if (Object.keys(chosen).length) body.overrides = chosen;
      await api(`/admin/users/${user.id}/plan`, { method: 'PUT', bearer: token, body });
      await onChanged();
      return t('admin.planSet', { plan });
    });
  };
  return html`<article class="card" aria-labelledby=${`user-${user.id}`}>
    <h2 id=${`user-${user.id}`}>${t('admin.user', { id: user.id })}: ${user.email}</h2>
    <dl class="facts">
      <dt>${t('dash.balance')}</dt><dd data-testid="admin-balance">${usd(user.balance_usd)}</dd>
      <dt>${t('admin.available')}</dt><dd>${usd(user.available_usd)}</dd>
      <dt>${t('dash.plan')}</dt><dd>${user.plan}${user.plan_expires_at ? ` (${t('dash.planEnds', { date: when(user.plan_expires_at) })})` : ''}</dd>
      <dt>${t('admin.verified')}</dt><dd>${user.email_verified ? t('yes') : t('no')}</dd>
      <dt>${t('dash.today')}</dt><dd>${t('admin.usageToday', { requests: num(user.usage_today?.requests), tokens: num(user.usage_today?.tokens), free: num(user.usage_today?.free_requests) })}</dd>
      <dt>${t('admin.flags')}</dt><dd>${user.flags?.length ? user.flags.map((f) => `${f.reason} (${when(f.created_at)})`).join('; ') : t('none')}</dd>
    </dl>
    <div class="cols">
      <form onSubmit=${doCredit} aria-labelledby=${`credit-${user.id}`}>
        <h3 id=${`credit-${user.id}`}>${t('admin.credit')}</h3>
        <${Field} label=${t('admin.amountUsd')} inputmode="decimal" required value=${amount} onInput=${(e) => setAmount(e.currentTarget.value)} />
        <${Field} label=${t('admin.reference')} required maxlength="200" value=${reference} onInput=${(e) => setReference(e.currentTarget.value)} />
        <${ErrorLine} error=${credit.error} />
        <${Notice} text=${credit.notice} />
        <button type="submit" class="primary" disabled=${credit.busy}>${t('admin.doCredit')}</button>
      </form>
      <form onSubmit=${doPlan} aria-labelledby=${`plan-${user.id}`}>
        <h3 id=${`plan-${user.id}`}>${t('admin.plan')}</h3>
        <${SelectField} label=${t('admin.planSelect')} value=${plan} onChange=${(e) => setPlan(e.currentTarget.value)} options=${plans.map((p) => [p.id, `${p.name} (${p.id})`])} />
        <p class="muted small">${t('admin.overridesHint')}</p>
        ${OVERRIDES.map(
          (k) => html`<${Field} label=${k} type="number" min="0" step="1" value=${overrides[k]} onInput=${(e) => setOverrides({ ...overrides, [k]: e.currentTarget.value })} />`,
        )}
        <${ErrorLine} error=${setPlanAction.error} />
        <${Notice} text=${setPlanAction.notice} />
        <button type="submit" disabled=${setPlanAction.busy}>${t('admin.setPlan')}</button>
      </form>
    </div>
  </article>`;
}

export function Admin({ config }) {
  const [token, setToken] = useState('');
  const [email, setEmail] = useState('');
  const [users, setUsers] = useState(null);
  const find = useAction();
  const search = async () => {
    const answer = await api(`/admin/users?email=${encodeURIComponent(email.trim())}`, { bearer: token });
    setUsers(answer.users);
  };
  const submit = (e) => {
    e.preventDefault();
    find.run(search);
  };
  const plans = config?.plans || [];
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title">${t('admin.title')}</h1>
    <form class="card" onSubmit=${submit} aria-labelledby="find-title">
      <h2 id="find-title">${t('admin.find')}</h2>
      <${Field} label=${t('admin.token')} type="password" autocomplete="off" required hint=${t('admin.tokenHint')} value=${token} onInput=${(e) => setToken(e.currentTarget.value)} />
      <${Field} label=${t('admin.email')} type="email" required value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
      <${ErrorLine} error=${find.error} />
      <button type="submit" class="primary" disabled=${find.busy}>${t('admin.search')}</button>
    </form>
    ${users && users.length === 0 && html`<p class="empty" role="status">${t('admin.notFound')}</p>`}
    ${users?.map((u) => html`<${UserCard} key=${u.id} user=${u} token=${token} plans=${plans} onChanged=${search} />`)}
  </section>`;
}
